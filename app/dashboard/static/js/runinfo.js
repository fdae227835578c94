// The run page's record of what was asked and who did it: the submitted spec as
// a table of hyperparameters, and the run's attempts with the worker of each.
//
// There is no attempts endpoint: the run row says how many there were
// (`attempt`) and which worker holds or held the last one (`worker_id`); the
// run's own stream says when each began and ended (the gateway's `run.state`
// `queued` packet with `attrs.attempt` when it requeues a run whose worker was
// lost, the worker's `run.resumed` event with the step it resumed from).

import { api } from './api.js';
import { fmtTime, h, pill, replace } from './dom.js';
import { flatSpec } from './runslist.js';

const ATTEMPT_NAMES = ['run.state', 'run.resumed'];
const ATTEMPT_PAGES = 4;

export class SpecTable {
  constructor() {
    this.body = h('tbody');
    this.el = h('section', { class: 'panel' },
      h('div', { class: 'panel-head' }, h('h3', {}, 'Spec')),
      h('div', { class: 'panel-body flush scroll', style: { 'max-height': '260px' } },
        h('table', { dataset: { testid: 'spec' } }, this.body)));
  }

  // Dotted fields (`model.width`) in alphabetical order, labels last as `key=value`.
  update(spec) {
    const flat = flatSpec(spec ?? {});
    const rows = Object.keys(flat).sort().map((k) => h('tr', { dataset: { key: k } },
      h('th', { class: 'mono', style: { width: '35%' } }, k), h('td', { class: 'mono' }, flat[k] === null ? '–' : String(flat[k]))));
    const labels = Object.entries(spec?.labels ?? {}).map(([k, v]) => `${k}=${v}`).join(', ');
    if (labels) rows.push(h('tr', { dataset: { key: 'labels' } }, h('th', { class: 'mono' }, 'labels'), h('td', { class: 'mono' }, labels)));
    replace(this.body, rows.length ? rows : h('tr', {}, h('td', { class: 'empty' }, 'No spec.')));
  }
}

// Attempts 1..run.attempt, each {attempt, worker, started, fromStep, ended, outcome}.
export function attemptsOf(run, packets) {
  const last = Math.max(1, run.attempt ?? 1);
  const rows = Array.from({ length: last }, (_, i) => ({ attempt: i + 1, worker: null, started: null,
    fromStep: i ? null : 0, ended: null, outcome: null }));
  let current = rows[0];
  for (const p of packets) {
    const a = p.attrs ?? {};
    if (p.kind === 'state' && p.value === 'queued' && a.attempt) {
      // The gateway requeued the run: the attempt before it lost its worker.
      const n = Number(a.attempt);
      const lost = rows[n - 2];
      if (lost) Object.assign(lost, { ended: p.ts, worker: a.worker_id ?? lost.worker,
        outcome: `${a.reason ?? 'lost'}${a.lost_at_step ? ` at step ${a.lost_at_step}` : ''}` });
      current = rows[n - 1] ?? current;
    } else if (p.name === 'run.resumed') {
      current = rows[Number(a.attempt ?? current.attempt) - 1] ?? current;
      current.fromStep = a.from_step ?? current.fromStep;
    } else if (p.kind === 'state' && (p.value === 'assigned' || p.value === 'running')) {
      current.started = current.started ?? p.ts;
    }
  }
  const final = rows[last - 1];
  final.worker = run.worker_id ?? final.worker;
  final.started = final.started ?? run.started_at;
  final.ended = run.finished_at ?? null;
  final.outcome = run.state;
  return rows;
}

export class AttemptsTable {
  constructor(runId) {
    this.runId = runId;
    this.body = h('tbody');
    this.el = h('section', { class: 'panel' },
      h('div', { class: 'panel-head' }, h('h3', {}, 'Attempts')),
      h('div', { class: 'panel-body flush scroll', style: { 'max-height': '180px' } },
        h('table', { dataset: { testid: 'attempts' } },
          h('thead', {}, h('tr', {}, ['#', 'worker', 'from', 'ran', 'outcome']
            .map((t) => h('th', {}, t)))), this.body)));
  }

  async load(run) {
    const packets = [];
    let after = null;
    try {
      for (let page = 0; page < ATTEMPT_PAGES; page += 1) {
        const data = await api.packets(this.runId, { names: ATTEMPT_NAMES, after, limit: 500 });
        packets.push(...(data?.items ?? []));
        after = data?.next_cursor;
        if (!after) break;
      }
    } catch { /* the run row alone still names the last attempt's worker */ }
    this.render(attemptsOf(run, packets));
  }

  render(rows) {
    replace(this.body, rows.map((r) => h('tr', { dataset: { attempt: r.attempt } },
      h('td', { class: 'num' }, r.attempt),
      h('td', { class: 'mono', dataset: { testid: 'attempt-worker' } }, r.worker ?? 'not recorded'),
      h('td', { class: 'num', title: 'the step it started from' }, r.fromStep ?? '–'),
      h('td', { title: `${r.started ?? ''} – ${r.ended ?? ''}` },
        `${r.started ? fmtTime(r.started) : '–'}–${r.ended ? fmtTime(r.ended) : '…'}`),
      h('td', {}, ['completed', 'failed', 'cancelled', 'halted', 'running', 'paused', 'queued', 'assigned']
        .includes(r.outcome) ? pill('run', r.outcome) : (r.outcome ?? '–')))));
  }
}
