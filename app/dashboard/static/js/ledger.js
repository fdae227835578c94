// The command ledger of one run: every command with its outcome, kept current
// from the REST list, the POST responses and live `command` packets.

import { fmtTime, frameScheduler, h, pill, replace, shortId } from './dom.js';

export const FINAL = new Set(['applied', 'rejected', 'expired']);

// A `command` packet carries the ledger row in attrs (either directly or under
// `command`); its value, when a string, is the new state.
export function commandFromPacket(p) {
  const a = p.attrs ?? {};
  const c = typeof a.command === 'object' && a.command ? a.command : a;
  const id = c.id ?? c.command_id ?? a.command_id;
  if (!id) return null;
  const state = c.state ?? a.state ?? (typeof p.value === 'string' ? p.value : undefined);
  return { ...c, id, state, run_id: c.run_id ?? p.run_id, type: c.type ?? a.type ?? c.command_type };
}

export function summariseParams(params) {
  const entries = Object.entries(params ?? {}).filter(([, v]) => v !== null && v !== undefined);
  const text = entries.map(([k, v]) => {
    if (k === 'checkpoint_id') return `checkpoint ${shortId(v)}`;
    if (typeof v === 'number') return `${k}=${Number(v.toPrecision(4))}`;
    return `${k}=${typeof v === 'object' ? JSON.stringify(v) : v}`;
  }).join(', ');
  return text.length > 160 ? `${text.slice(0, 157)}…` : text;
}

export class Ledger {
  constructor() {
    this.rows = new Map();
    this.listeners = new Set();
    this.body = h('tbody');
    this.el = h('section', { class: 'panel' },
      h('div', { class: 'panel-head' }, h('h3', {}, 'Command ledger')),
      h('div', { class: 'panel-body flush scroll', style: { 'max-height': '260px' } },
        h('table', { dataset: { testid: 'ledger' } },
          h('thead', {}, h('tr', {}, h('th', {}, 'issued'), h('th', {}, 'command'),
            h('th', {}, 'outcome'))),
          this.body)));
    this.schedule = frameScheduler(() => this.render());
    this.render();
  }

  // Fields only ever fill in: a late `dispatched` must not undo an `applied`.
  upsert(cmd) {
    if (!cmd?.id) return;
    const old = this.rows.get(cmd.id) ?? {};
    const merged = { ...old };
    for (const [k, v] of Object.entries(cmd)) if (v !== undefined && v !== null) merged[k] = v;
    if (FINAL.has(old.state) && !FINAL.has(cmd.state)) merged.state = old.state;
    this.rows.set(cmd.id, merged);
    this.listeners.forEach((fn) => fn(merged));
    this.schedule();
  }

  get(id) {
    return this.rows.get(id);
  }

  subscribe(fn) {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  pending() {
    return [...this.rows.values()].filter((c) => !FINAL.has(c.state));
  }

  render() {
    const rows = [...this.rows.values()].sort((a, b) =>
      String(b.issued_at ?? '').localeCompare(String(a.issued_at ?? '')));
    if (!rows.length) {
      replace(this.body, h('tr', {}, h('td', { colspan: 3, class: 'empty' }, 'No commands yet.')));
      return;
    }
    replace(this.body, rows.slice(0, 200).map((c) => h('tr', {
      dataset: { commandId: c.id, type: c.type, state: c.state } },
    h('td', { title: c.issued_by ? `by ${c.issued_by}` : '' }, fmtTime(c.issued_at)),
    // Parameters and the outcome's reason/result wrap under the type, so the
    // outcome column stays visible in the narrow side column.
    h('td', { class: 'wrap' }, h('b', {}, c.type ?? '?'),
      c.params && Object.keys(c.params).length ? h('div', { class: 'muted' }, summariseParams(c.params)) : '',
      c.reason ? h('div', { class: 'error-text' }, c.reason)
        : (c.result && Object.keys(c.result).length ? h('div', { class: 'muted' }, summariseParams(c.result)) : '')),
    h('td', {}, pill('cmd', c.state ?? 'pending')))));
  }
}
