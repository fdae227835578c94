// The run view's smaller panels: the header with the run's facts, the table of
// seeds, and the checkpoints. Each rebuilds itself at most once per frame.

import { ago, fmtBytes, fmtNum, fmtPct, fmtTime, frameScheduler, h, pill, replace, runLabel, shortId, throttle } from './dom.js';

// Text panels fed by every packet: rebuilt a few times a second, which reads as
// live to a person and leaves the main thread free during a replay burst.
const TEXT_MS = 250;
const SHOW_CHECKPOINTS = 30;
import { progress, seedChips } from './fleet.js';
import { LIVE_STAGES } from './swimlane.js';

export class RunHeader {
  constructor() {
    this.el = h('div', { class: 'run-head', dataset: { testid: 'run-head' } });
    this.schedule = throttle(() => this.render(), TEXT_MS);
  }

  update(run) {
    this.run = run;
    this.schedule();
  }

  render() {
    const r = this.run;
    const m = r.metrics ?? {};
    this.el.dataset.state = r.state;
    replace(this.el,
      h('h1', {}, runLabel(r)), pill('run', r.state, { big: true }),
      h('div', { class: 'facts' },
        h('span', { class: 'mono', title: r.id }, shortId(r.id)),
        h('span', {}, 'task ', h('b', {}, r.spec?.task ?? '–')),
        h('span', {}, 'device ', h('b', {}, r.spec?.device ?? '–')),
        h('span', {}, 'worker ', h('b', { class: 'mono' }, r.worker_id ?? '–')),
        h('span', {}, progress(r)),
        h('span', {}, 'loss ', h('b', {}, fmtNum(m.loss)), ' · acc ', h('b', {}, fmtPct(m.accuracy)),
          ' · val acc ', h('b', {}, fmtPct(m.val_accuracy))),
        h('span', {}, seedChips(r.seeds)),
        h('span', { title: r.started_at ?? '' }, r.started_at ? `started ${ago(r.started_at)}` : 'not started')));
  }
}

export class SeedsTable {
  constructor({ onCull }) {
    this.onCull = onCull; // null for roles that cannot command
    this.body = h('tbody');
    this.el = h('div', { class: 'scroll', style: { 'max-height': '220px' } },
      h('table', { dataset: { testid: 'seeds' } },
        h('thead', {}, h('tr', {}, ['slot', 'blueprint', 'stage', 'alpha', 'since step', 'seed', '']
          .map((t) => h('th', {}, t)))), this.body));
    this.schedule = throttle(() => this.render(), TEXT_MS);
  }

  update(seeds) {
    this.seeds = seeds;
    this.schedule();
  }

  render() {
    const seeds = this.seeds ?? [];
    if (!seeds.length) {
      replace(this.body, h('tr', {}, h('td', { colspan: 7, class: 'empty' }, 'No seeds.')));
      return;
    }
    // Live seeds first: they are the ones an operator may act on.
    const ordered = [...seeds].sort((a, b) => Number(LIVE_STAGES.has(b.stage)) - Number(LIVE_STAGES.has(a.stage)));
    replace(this.body, ordered.map((s) => {
      const since = s.segments.at(-1)?.start;
      return h('tr', { dataset: { seedId: s.id, stage: s.stage } },
        h('td', {}, s.slot), h('td', {}, s.blueprint),
        h('td', {}, pill('stage', s.stage ?? 'UNKNOWN')),
        h('td', { class: 'num' }, s.stage === 'BLENDING' || s.alpha ? s.alpha.toFixed(2) : '–'),
        h('td', { class: 'num' }, since ?? '–'),
        h('td', { class: 'mono muted', title: s.id }, shortId(s.id)),
        h('td', {}, this.onCull && LIVE_STAGES.has(s.stage)
          ? h('button', { class: 'btn btn-small', type: 'button', dataset: { testid: 'cull-seed' },
            onclick: () => this.onCull(s) }, 'Cull…') : ''));
    }));
  }
}

export class CheckpointsTable {
  constructor({ onRollback }) {
    this.onRollback = onRollback;
    this.items = [];
    this.body = h('tbody');
    this.el = h('section', { class: 'panel' },
      h('div', { class: 'panel-head' }, h('h3', {}, 'Checkpoints')),
      h('div', { class: 'panel-body flush scroll', style: { 'max-height': '220px' } },
        h('table', { dataset: { testid: 'checkpoints' } },
          h('thead', {}, h('tr', {}, ['step', 'written', 'size', 'health', '']
            .map((t) => h('th', {}, t)))), this.body)));
    this.schedule = frameScheduler(() => this.render());
    this.render();
  }

  update(items) {
    const next = [...items].sort((a, b) => b.step - a.step);
    // Polled every few seconds: skip the rebuild when nothing changed.
    if (next.length === this.items.length && next[0]?.id === this.items[0]?.id) return;
    this.items = next;
    this.schedule();
  }

  render() {
    if (!this.items.length) {
      replace(this.body, h('tr', {}, h('td', { colspan: 5, class: 'empty' }, 'No checkpoints yet.')));
      return;
    }
    // The newest few are what an operator rolls back to; a run may list thousands.
    const shown = this.items.slice(0, SHOW_CHECKPOINTS);
    const more = this.items.length - shown.length;
    replace(this.body, shown.map((c) => h('tr', { dataset: { checkpointId: c.id } },
      h('td', { class: 'num', title: `epoch ${c.epoch}` }, c.step),
      h('td', {}, fmtTime(c.created_at)), h('td', { class: 'num' }, fmtBytes(c.bytes)),
      h('td', {}, c.good === false ? h('span', { class: 'stale' }, 'not good') : 'good'),
      h('td', {}, this.onRollback ? h('button', { class: 'btn btn-small', type: 'button',
        onclick: () => this.onRollback(c.id) }, 'Roll back…') : ''))),
    more > 0 ? h('tr', {}, h('td', { colspan: 5, class: 'empty' }, `and ${more} older`)) : '');
  }
}
