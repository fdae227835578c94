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
  return entries.map(([k, v]) => (k === 'seed_id' || k === 'checkpoint_id'
    ? `${k.replace('_id', '')} ${shortId(v)}` : `${k}=${v}`)).join(', ');
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
            h('th', {}, 'outcome'), h('th', {}, 'reason / result'))),
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
      replace(this.body, h('tr', {}, h('td', { colspan: 4, class: 'empty' }, 'No commands yet.')));
      return;
    }
    replace(this.body, rows.slice(0, 200).map((c) => h('tr', {
      dataset: { commandId: c.id, type: c.type, state: c.state } },
    h('td', { title: c.issued_by ? `by ${c.issued_by}` : '' }, fmtTime(c.issued_at)),
    h('td', {}, h('b', {}, c.type ?? '?'), c.params && Object.keys(c.params).length
      ? h('span', { class: 'muted' }, ` ${summariseParams(c.params)}`) : ''),
    h('td', {}, pill('cmd', c.state ?? 'pending')),
    h('td', { class: 'wrap' }, c.reason ?? (c.result && Object.keys(c.result).length
      ? summariseParams(c.result) : '')))));
  }
}
