// Seed lineage (GET /api/v1/runs/{id}/seeds): every seed's stage history, its
// gate verdicts and why it ended. Shown on hover in the seed swimlane (a few
// lines under the segment's own) and in full in a detail panel when a seed is
// clicked (in the swimlane, the seeds table or the architecture view).
//
// The gateway writes lineage from the stream as its persister catches up, so
// after a stage change or a gate failure on the socket the list is read again
// a moment later (at most once a second).

import { api } from './api.js';
import { fmtNum, h, pill, replace, shortId } from './dom.js';

const REFRESH_MS = 1000;
const TIP_STAGES = 8; // history entries in a tooltip; the panel shows all

export class LineageStore {
  constructor(runId) {
    this.runId = runId;
    this.seeds = new Map(); // seed_id -> Seed (API.md)
    this.listeners = new Set();
    this.timer = null;
    this.loaded = false;
  }

  onChange(fn) {
    this.listeners.add(fn);
  }

  get(seedId) {
    return this.seeds.get(seedId) ?? null;
  }

  set(list) {
    this.seeds = new Map((list ?? []).map((s) => [s.seed_id, s]));
    this.loaded = true;
    this.listeners.forEach((fn) => fn(this));
  }

  async load() {
    try {
      this.set(await api.seeds(this.runId));
    } catch { /* the next refresh retries */ }
  }

  // A seed moved: its lineage row is written once the persister's cycle runs.
  refreshSoon(delay = REFRESH_MS) {
    if (this.timer) return;
    this.timer = setTimeout(() => { this.timer = null; this.load(); }, delay);
  }

  dispose() {
    clearTimeout(this.timer);
    this.listeners.clear();
  }
}

function gateText(g) {
  return `${g.gate} ${g.passed ? 'passed' : 'failed'} @${g.step}${g.reason ? ` (${g.reason})` : ''}`;
}

// Why a seed ended: its outcome and the reason of the move that ended it.
export function endReason(seed) {
  if (!seed || seed.outcome === 'live') return null;
  const stage = seed.outcome === 'culled' ? 'CULLED' : 'FOSSILIZED';
  const entry = [...(seed.history ?? [])].reverse().find((e) => e.stage === stage);
  return entry?.reason ?? seed.reason ?? null;
}

// Extra lines for the swimlane's tooltip: the stage history, gate verdicts and
// the end of the seed, or a note while the lineage is not yet loaded.
export function lineageTip(seed) {
  if (!seed) return [h('div', { class: 'tip-line muted' }, 'lineage not recorded yet')];
  const history = seed.history ?? [];
  const shown = history.slice(-TIP_STAGES);
  const lines = [
    h('div', { class: 'tip-line', dataset: { part: 'history' } },
      history.length > shown.length ? '… → ' : '',
      shown.map((e) => `${e.stage.toLowerCase()} @${e.step}`).join(' → ')),
  ];
  if (seed.gates?.length) {
    lines.push(h('div', { class: 'tip-line', dataset: { part: 'gates' } },
      seed.gates.map((g) => h('span', { class: g.passed ? 'gate-pass' : 'gate-fail', title: gateText(g) },
        `${g.gate} ${g.passed ? '✓' : '✗'} `))));
  }
  const why = endReason(seed);
  if (why) {
    lines.push(h('div', { class: 'tip-line', dataset: { part: 'end' } },
      `${seed.outcome} at step ${seed.ended_step ?? '?'}: ${why}`));
  }
  lines.push(h('div', { class: 'tip-line muted' }, 'click for the full lineage'));
  return lines;
}

function figures(f) {
  const entries = Object.entries(f ?? {});
  if (!entries.length) return '–';
  return entries.map(([k, v]) => `${k}=${v === null ? 'n/a' : fmtNum(v)}`).join(', ');
}

// The full lineage of one seed, below the swimlane.
export class SeedDetail {
  constructor({ lineage, onClose }) {
    this.lineage = lineage;
    this.seedId = null;
    this.live = null; // the swimlane's record: stage and alpha fresher than the lineage
    this.el = h('div', { class: 'seed-detail', hidden: true, dataset: { testid: 'seed-detail' } });
    this.onClose = onClose;
    lineage.onChange(() => this.render());
  }

  show(seedId, live = null) {
    this.seedId = seedId;
    this.live = live;
    this.el.hidden = false;
    this.render();
    this.el.scrollIntoView({ block: 'nearest' });
  }

  close() {
    this.seedId = null;
    this.el.hidden = true;
    this.onClose?.();
  }

  update(live) {
    if (this.seedId && live?.id === this.seedId) {
      this.live = live;
      this.render();
    }
  }

  render() {
    if (!this.seedId) return;
    const seed = this.lineage.get(this.seedId);
    const live = this.live ?? {};
    // An ended seed keeps its lineage's stage (CULLED) while its slot moves on.
    const stage = (seed && seed.outcome !== 'live' ? seed.stage : live.stage ?? seed?.stage) ?? 'UNKNOWN';
    this.el.dataset.seedId = this.seedId;
    this.el.dataset.outcome = seed?.outcome ?? '';
    const why = endReason(seed);
    const head = h('div', { class: 'panel-head' },
      h('h3', {}, `Seed ${shortId(this.seedId)}`), pill('stage', stage),
      h('span', { class: 'muted' }, `${seed?.slot ?? live.slot ?? '?'} · ${seed?.blueprint ?? live.blueprint ?? '?'}`),
      h('span', { class: 'spacer' }),
      h('button', { type: 'button', class: 'btn btn-small', dataset: { testid: 'seed-detail-close' },
        onclick: () => this.close() }, 'Close'));
    if (!seed) {
      replace(this.el, head, h('p', { class: 'empty' }, this.lineage.loaded
        ? 'No lineage recorded for this seed yet (the gateway writes it as its history catches up).'
        : 'Loading the lineage…'));
      return;
    }
    const facts = h('div', { class: 'facts detail-facts' },
      h('span', {}, 'outcome ', h('b', { dataset: { testid: 'seed-outcome' } }, seed.outcome)),
      h('span', {}, 'params ', h('b', {}, (live.params ?? seed.params ?? 0).toLocaleString())),
      h('span', {}, 'α ', h('b', {}, fmtNum(live.alpha ?? seed.alpha, 3))),
      h('span', {}, 'germinated @', h('b', {}, seed.germinated_step)),
      seed.ended_step !== null && seed.ended_step !== undefined
        ? h('span', {}, `${seed.outcome === 'culled' ? 'culled' : 'fossilised'} @`, h('b', {}, seed.ended_step)) : '');
    const end = why ? h('p', { class: `detail-end ${seed.outcome}`, dataset: { testid: 'seed-end-reason' } },
      h('b', {}, seed.outcome === 'culled' ? 'Culled: ' : 'Fossilised: '), why) : '';
    const history = h('table', { dataset: { testid: 'seed-history' } },
      h('thead', {}, h('tr', {}, ['step', 'stage', 'reason'].map((t) => h('th', {}, t)))),
      h('tbody', {}, (seed.history ?? []).map((e) => h('tr', { dataset: { stage: e.stage } },
        h('td', { class: 'num' }, e.step), h('td', {}, pill('stage', e.stage)),
        h('td', { class: 'wrap' }, e.reason)))));
    const gates = h('table', { dataset: { testid: 'seed-gates' } },
      h('thead', {}, h('tr', {}, ['gate', 'verdict', 'step', 'reason', 'figures'].map((t) => h('th', {}, t)))),
      h('tbody', {}, seed.gates?.length ? seed.gates.map((g) => h('tr', { dataset: { gate: g.gate, passed: String(g.passed) } },
        h('td', {}, g.gate), h('td', { class: g.passed ? 'gate-pass' : 'gate-fail' }, g.passed ? 'passed' : 'failed'),
        h('td', { class: 'num' }, g.step), h('td', { class: 'wrap' }, g.reason),
        h('td', { class: 'wrap mono' }, figures(g.figures))))
        : h('tr', {}, h('td', { colspan: 5, class: 'empty' }, 'No gate verdicts recorded.'))));
    replace(this.el, head, facts, end,
      h('div', { class: 'detail-grid' },
        h('div', {}, h('h4', {}, 'Stage history'), history),
        h('div', {}, h('h4', {}, 'Gates'), gates)));
  }
}
