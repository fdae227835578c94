// The event feed: Tolaria, Kasmina and Tamiyo events, newest first, filtered by
// level. Critical events are highlighted and counted; a telemetry gap is always
// shown whatever the filter, because it means the charts are missing data.

import { fmtTime, h, replace, throttle } from './dom.js';

const KEEP = 500;   // events held in memory
const SHOW = 150;   // rows in the DOM: enough to scroll, cheap to rebuild
const RANK = { routine: -1, info: 0, warning: 1, critical: 2 };

// Tamiyo reports every decision, most of them "wait": kept, but hidden unless
// the operator asks for everything.
function rank(p) {
  if (p.name === 'tamiyo.decision' && (p.value === 'wait' || p.attrs?.action === 'wait')) return RANK.routine;
  if (p.name === 'artifacts.stored') return RANK.routine; // one per checkpoint
  return RANK[p.level] ?? 0;
}

export const GAP_EVENT = 'telemetry.gap';

// One readable line from an event's attrs; known events get a sentence.
export function describe(p) {
  const a = p.attrs ?? {};
  if (p.name === 'kasmina.seed.stage_changed') {
    const from = a.from ?? a.from_stage ?? a.old ?? '?';
    const to = a.to ?? a.to_stage ?? a.stage ?? a.new ?? p.value ?? '?';
    const seed = String(a.seed_id ?? '').slice(0, 8);
    return `${a.slot ?? ''} ${seed}: ${from} → ${to}${a.reason ? ` (${a.reason})` : ''}`;
  }
  if (p.name === 'tolaria.model.architecture') {
    const blocks = Array.isArray(a.blocks) ? a.blocks.length : '?';
    return `${a.host ?? '?'} host, ${blocks} slots, ${a.params ?? '?'} parameters`;
  }
  if (p.name === GAP_EVENT) {
    return `Telemetry lost between ${a.from ?? '?'} and ${a.to ?? '?'}`
      + (a.reason ? ` (${a.reason})` : '');
  }
  const parts = [];
  if (p.value !== null && p.value !== undefined && p.value !== '') parts.push(String(p.value));
  for (const [k, v] of Object.entries(a)) {
    if (parts.length >= 6) break;
    parts.push(`${k}=${typeof v === 'object' ? JSON.stringify(v) : v}`);
  }
  return parts.join(' · ');
}

export class EventFeed {
  constructor() {
    this.events = [];
    this.minLevel = 'info';
    this.criticalCount = 0;
    this.seen = new Set();
    this.list = h('div', { class: 'feed', dataset: { testid: 'event-feed' }, role: 'log' });
    this.badge = h('span', { class: 'count-badge', hidden: true });
    const seg = h('div', { class: 'seg', role: 'group', 'aria-label': 'Minimum level' });
    for (const [level, label] of [['routine', 'All'], ['info', 'Info+'], ['warning', 'Warn+'], ['critical', 'Critical']]) {
      seg.append(h('button', { type: 'button', 'aria-pressed': String(level === 'info'),
        dataset: { level },
        onclick: (e) => {
          this.minLevel = level;
          seg.querySelectorAll('button').forEach((b) => b.setAttribute('aria-pressed', String(b === e.currentTarget)));
          this.render();
        } }, label));
    }
    this.el = h('section', { class: 'panel' },
      h('div', { class: 'panel-head' }, h('h3', {}, 'Events'), this.badge,
        h('span', { class: 'spacer' }), seg),
      this.list);
    this.schedule = throttle(() => this.render(), 250);
    this.render();
  }

  add(p) {
    // History pages and the live socket can overlap: the cursor identifies a packet.
    if (p.cursor) {
      if (this.seen.has(p.cursor)) return;
      this.seen.add(p.cursor);
    }
    this.events.push(p);
    if (p.level === 'critical') this.criticalCount += 1;
    if (this.events.length > KEEP * 1.2) {
      const drop = this.events.splice(0, this.events.length - KEEP);
      for (const d of drop) this.seen.delete(d.cursor);
    }
    this.schedule();
  }

  visible(p) {
    return p.name === GAP_EVENT || rank(p) >= RANK[this.minLevel];
  }

  render() {
    this.badge.hidden = this.criticalCount === 0;
    this.badge.textContent = `${this.criticalCount} critical`;
    const rows = [];
    for (let i = this.events.length - 1; i >= 0 && rows.length < SHOW; i -= 1) {
      const p = this.events[i];
      if (!this.visible(p)) continue;
      const cls = `ev ${p.level ?? 'info'}${p.name === GAP_EVENT ? ' gap' : ''}`;
      rows.push(h('div', { class: cls, dataset: { level: p.level ?? 'info', name: p.name } },
        h('span', { class: 'step', title: fmtTime(p.ts) }, p.step ?? ''),
        h('span', { class: 'name' }, p.name),
        h('span', { class: 'text' }, describe(p))));
    }
    if (!rows.length) rows.push(h('p', { class: 'empty' }, this.events.length
      ? 'No events at this level.' : 'No events yet.'));
    replace(this.list, rows);
  }
}
