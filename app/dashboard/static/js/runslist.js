// The runs list of the fleet view: search by name, filter by state, task and
// label (server-side), sort by any column, page past the first page with the
// API's cursors, chosen hyperparameters as columns, and a selection to compare.
// Columns the server can sort on (name, state, step, created) are sorted there,
// so paging stays in order; figures and hyperparameters are sorted among the
// loaded rows (the header says so).

import { api } from './api.js';
import { fmtNum, fmtPct, fmtTime, h, pill, replace, runLabel, shortId } from './dom.js';

const PAGE = 50;
const STATES = ['queued', 'assigned', 'running', 'paused', 'completed', 'failed', 'cancelled', 'halted'];
const HP_KEY = 'esper.runs.columns';
export const COMPARE_MAX = 10;

// Spec leaves as dotted paths (`model.width`, `morphogenesis.policy`), labels aside.
export function flatSpec(spec, prefix = '', out = {}) {
  for (const [k, v] of Object.entries(spec ?? {})) {
    const path = prefix ? `${prefix}.${k}` : k;
    if (k === 'labels' && !prefix) continue;
    if (v && typeof v === 'object' && !Array.isArray(v)) flatSpec(v, path, out);
    else out[path] = Array.isArray(v) ? JSON.stringify(v) : v;
  }
  return out;
}

const cmp = (a, b) => {
  if (a === b) return 0;
  if (a === null || a === undefined || a === '') return 1; // blanks last either way
  if (b === null || b === undefined || b === '') return -1;
  return typeof a === 'number' && typeof b === 'number' ? a - b : String(a).localeCompare(String(b));
};

// Column id -> {label, server sort field | null, value(run) for client sorts, cell(run)}.
function baseColumns(progress, seedChips) {
  return [
    { id: 'name', label: 'run', server: 'name',
      cell: (r) => h('td', {}, h('a', { href: `#/runs/${r.id}` }, runLabel(r)), ' ',
        h('span', { class: 'muted mono' }, shortId(r.id))) },
    { id: 'state', label: 'state', server: 'state', cell: (r) => h('td', {}, pill('run', r.state)) },
    { id: 'task', label: 'task', value: (r) => r.spec?.task, cell: (r) => h('td', {}, r.spec?.task ?? '–') },
    { id: 'step', label: 'progress', server: 'step', cell: (r) => h('td', {}, progress(r)) },
    { id: 'loss', label: 'loss', value: (r) => r.metrics?.loss, cell: (r) => h('td', { class: 'num' }, fmtNum(r.metrics?.loss)) },
    { id: 'accuracy', label: 'accuracy', value: (r) => r.metrics?.accuracy,
      cell: (r) => h('td', { class: 'num' }, fmtPct(r.metrics?.accuracy)) },
    { id: 'val_accuracy', label: 'val acc', value: (r) => r.metrics?.val_accuracy,
      cell: (r) => h('td', { class: 'num' }, fmtPct(r.metrics?.val_accuracy)) },
    { id: 'seeds', label: 'seeds by stage', cell: (r) => h('td', {}, seedChips(r.seeds)) },
    { id: 'worker', label: 'worker', value: (r) => r.worker_id, cell: (r) => h('td', { class: 'mono' }, r.worker_id ?? '–') },
    { id: 'created_at', label: 'created', server: 'created_at',
      cell: (r) => h('td', { title: r.created_at }, fmtTime(r.created_at)) },
  ];
}

export class RunsList {
  constructor({ progress, seedChips, onChange }) {
    this.columns = baseColumns(progress, seedChips);
    this.onChange = onChange;
    this.filters = { q: '', state: '', task: '', label: '' };
    this.sort = { id: 'created_at', desc: true };
    this.pages = 1;
    this.runs = [];
    this.nextCursor = null;
    this.loaded = false;
    this.selected = new Set();
    this.hp = JSON.parse(localStorage.getItem(HP_KEY) ?? '[]');
    this.head = h('thead');
    this.body = h('tbody');
    this.more = h('button', { type: 'button', class: 'btn btn-small', dataset: { testid: 'runs-more' },
      onclick: () => { this.pages += 1; this.refresh(); } }, 'Load more');
    this.count = h('span', { class: 'muted', dataset: { testid: 'runs-count' } });
    this.compare = h('button', { type: 'button', class: 'btn btn-primary btn-small', disabled: true,
      dataset: { testid: 'compare-selected' },
      onclick: () => { location.hash = `#/compare?runs=${[...this.selected].join(',')}`; } }, 'Compare');
    this.hpPicker = h('select', { dataset: { testid: 'runs-columns' }, 'aria-label': 'Add a hyperparameter column',
      onchange: (e) => { if (e.target.value) this.toggleHp(e.target.value); e.target.value = ''; } });
    this.taskSelect = h('select', { dataset: { testid: 'runs-task' }, 'aria-label': 'Task',
      onchange: (e) => this.setFilter('task', e.target.value) }, h('option', { value: '' }, 'any task'));
    this.el = h('section', { class: 'panel' },
      h('div', { class: 'panel-head' }, h('h3', {}, 'Runs'), this.count, h('span', { class: 'spacer' }), this.compare),
      this.controls(),
      h('div', { class: 'panel-body flush scroll' }, h('table', { dataset: { testid: 'runs' } }, this.head, this.body)),
      h('div', { class: 'list-foot' }, this.more));
    api.tasks().then((tasks) => tasks.forEach((t) => this.taskSelect.append(h('option', { value: t.name }, t.name))))
      .catch(() => {});
  }

  controls() {
    let timer = null;
    const debounced = (key) => (e) => {
      clearTimeout(timer);
      timer = setTimeout(() => this.setFilter(key, e.target.value.trim()), 250);
    };
    return h('div', { class: 'list-controls' },
      h('input', { type: 'search', placeholder: 'Search name or id', dataset: { testid: 'runs-search' },
        'aria-label': 'Search runs', oninput: debounced('q') }),
      h('select', { dataset: { testid: 'runs-state' }, 'aria-label': 'State',
        onchange: (e) => this.setFilter('state', e.target.value) },
      h('option', { value: '' }, 'any state'), STATES.map((s) => h('option', { value: s }, s))),
      this.taskSelect,
      h('input', { type: 'text', placeholder: 'label key=value', dataset: { testid: 'runs-label' },
        'aria-label': 'Label filter', oninput: debounced('label') }),
      this.hpPicker);
  }

  setFilter(key, value) {
    if (this.filters[key] === value) return;
    this.filters[key] = value;
    this.pages = 1;
    this.refresh();
  }

  toggleHp(path) {
    this.hp = this.hp.includes(path) ? this.hp.filter((p) => p !== path) : [...this.hp, path];
    localStorage.setItem(HP_KEY, JSON.stringify(this.hp));
    this.render();
  }

  setSort(id) {
    this.sort = { id, desc: this.sort.id === id ? !this.sort.desc : id === 'created_at' };
    const col = this.columns.find((c) => c.id === id);
    if (col?.server) { this.pages = 1; this.refresh(); } else this.render();
  }

  query() {
    const col = this.columns.find((c) => c.id === this.sort.id);
    const server = col?.server ?? 'created_at';
    const desc = col?.server ? this.sort.desc : true;
    const { q, state, task, label } = this.filters;
    return { q, state, task, label, sort: `${desc ? '-' : ''}${server}` };
  }

  async refresh() {
    const query = this.query();
    const key = JSON.stringify([query, this.pages]);
    this.pending = key;
    let runs = [];
    let cursor = null;
    try {
      for (let i = 0; i < this.pages; i += 1) {
        const page = await api.runsPage({ ...query, limit: PAGE, cursor });
        runs = runs.concat(page.items);
        cursor = page.next_cursor;
        if (!cursor) break;
      }
    } catch (err) {
      if (this.pending === key) this.onChange?.(err);
      return;
    }
    if (this.pending !== key) return; // a newer query answered or is on its way
    this.runs = runs;
    this.nextCursor = cursor;
    this.loaded = true;
    this.render();
    this.onChange?.(null);
  }

  // Live figures from the fleet socket, applied to a loaded row.
  get(id) {
    return this.runs.find((r) => r.id === id);
  }

  sorted() {
    const col = this.columns.find((c) => c.id === this.sort.id);
    if (col?.server) return this.runs;
    const value = col?.value ?? ((r) => flatSpec(r.spec)[this.sort.id]);
    const sign = this.sort.desc ? -1 : 1;
    return [...this.runs].sort((a, b) => {
      const va = value(a);
      const vb = value(b);
      if (va === undefined || va === null) return 1;
      if (vb === undefined || vb === null) return -1;
      return sign * cmp(va, vb);
    });
  }

  header() {
    const sortable = (id, label, server) => {
      const active = this.sort.id === id;
      return h('th', { class: 'sortable', dataset: { sort: id },
        title: server ? 'Sort (server-side)' : 'Sort the loaded rows',
        'aria-sort': active ? (this.sort.desc ? 'descending' : 'ascending') : 'none',
        onclick: () => this.setSort(id) }, label);
    };
    return h('tr', {}, h('th', {}, ''),
      this.columns.map((c) => (c.id === 'seeds' ? h('th', {}, c.label) : sortable(c.id, c.label, c.server))),
      this.hp.map((p) => h('th', { class: 'sortable hp', dataset: { sort: p, hp: p },
        'aria-sort': this.sort.id === p ? (this.sort.desc ? 'descending' : 'ascending') : 'none' },
      h('span', { onclick: () => this.setSort(p) }, p), ' ',
      h('button', { type: 'button', class: 'link', title: `Remove ${p}`, onclick: () => this.toggleHp(p) }, '×'))));
  }

  // The fleet re-renders on every packet: rebuilding a header or row between a
  // click's mousedown and mouseup would swallow the click, so unchanged ones stay.
  render() {
    const headKey = JSON.stringify([this.sort, this.hp]);
    if (headKey !== this.headKey) {
      this.headKey = headKey;
      replace(this.head, this.header());
    }
    const keys = new Set();
    for (const r of this.runs) Object.keys(flatSpec(r.spec)).forEach((k) => keys.add(k));
    const picker = JSON.stringify([[...keys].sort(), this.hp]);
    if (picker !== this.pickerKey) { // rebuilt only when it changes: it may be open
      this.pickerKey = picker;
      replace(this.hpPicker, h('option', { value: '' }, '+ hyperparameter column'),
        [...keys].sort().map((k) => h('option', { value: k }, `${this.hp.includes(k) ? '✓ ' : ''}${k}`)));
    }
    this.count.textContent = `${this.runs.length} shown${this.nextCursor ? ', more on the server' : ''}`;
    this.more.hidden = !this.nextCursor;
    this.compare.disabled = this.selected.size < 2 || this.selected.size > COMPARE_MAX;
    this.compare.textContent = `Compare${this.selected.size ? ` (${this.selected.size})` : ''}`;
    const width = this.columns.length + this.hp.length + 1;
    if (!this.runs.length) {
      this.rows = new Map();
      replace(this.body, h('tr', {}, h('td', { colspan: width, class: 'empty' },
        !this.loaded ? 'Loading…' : (Object.values(this.filters).some(Boolean) ? 'No runs match.'
          : 'No runs yet. Submit one with `esper runs submit SPEC.yaml` or POST /api/v1/runs.'))));
      return;
    }
    const rows = new Map();
    replace(this.body, this.sorted().map((r) => {
      const key = JSON.stringify([r, this.selected.has(r.id), this.hp]);
      const kept = this.rows?.get(r.id);
      const el = kept?.key === key ? kept.el : this.row(r);
      rows.set(r.id, { key, el });
      return el;
    }));
    this.rows = rows;
  }

  row(r) {
    const spec = flatSpec(r.spec);
    return h('tr', { class: 'clickable', dataset: { runId: r.id, state: r.state, step: r.step ?? 0 },
      onclick: (e) => { if (!['A', 'INPUT', 'BUTTON'].includes(e.target.tagName)) location.hash = `#/runs/${r.id}`; } },
    h('td', {}, h('input', { type: 'checkbox', 'aria-label': `Select ${runLabel(r)}`,
      dataset: { testid: 'select-run' }, checked: this.selected.has(r.id),
      onchange: (e) => { if (e.target.checked) this.selected.add(r.id); else this.selected.delete(r.id); this.render(); } })),
    this.columns.map((c) => c.cell(r)),
    this.hp.map((p) => h('td', { class: 'num mono', dataset: { hp: p } }, spec[p] === undefined ? '–' : String(spec[p]))));
  }
}
