// Architecture view: the host as the engine built it, block by block, with the
// slot after each block and the seed living there (blueprint, stage, alpha,
// parameters). A fossilised seed is drawn merged into its host block: it is
// part of the network now. Culled seeds are listed under their slot.
//
// The host comes from the worker's `tolaria.model.architecture` event (once per
// attempt: blocks, layers, parameters, slot shapes; docs/telemetry.md); for a
// run without it (older workers, pruned history) the slots come from the spec
// or the task, without layers. Seeds come from the run page's seed records
// (socket and history) and the lineage (GET /runs/{id}/seeds), so the view is
// live with the socket. The total is the `tolaria.model.params` metric when the
// worker reports it.

import { fmtNum, frameScheduler, h, pill, replace, shortId } from './dom.js';
import { LIVE_STAGES } from './swimlane.js';

export const ARCHITECTURE_EVENT = 'tolaria.model.architecture';
export const PARAMS_METRIC = 'tolaria.model.params';
const ENDED_STAGES = new Set(['CULLED', 'EMBARGOED', 'RESETTING', 'DORMANT', 'TERMINATED']);

const count = (n) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '–');
const shape = (s) => (Array.isArray(s) && s.length ? s.join('×') : '');

function hostLabel(host) {
  if (!host) return 'host not reported';
  const args = Object.entries(host.args ?? {}).map(([k, v]) => `${k}=${v}`).join(', ');
  return `${host.host}${args ? ` (${args})` : ''}`;
}

// How a seed record stands: live, fossilised or ended (culled, or its slot
// embargoed or reset afterwards). The lineage's outcome wins when known.
function standing(seed, lineage) {
  const row = lineage?.get(seed.id);
  if (row?.outcome === 'fossilised' || seed.stage === 'FOSSILIZED') return 'fossilised';
  if (row?.outcome === 'culled') return 'culled';
  if (LIVE_STAGES.has(seed.stage)) return 'live';
  if (ENDED_STAGES.has(seed.stage)) return seed.stage === 'TERMINATED' ? 'terminated' : 'culled';
  return 'live';
}

export class ArchitectureView {
  constructor({ onSelect, href = null }) {
    this.host = null; // the architecture event's attrs
    this.slotNames = []; // fallback when the host was not reported
    this.seeds = [];
    this.lineage = null;
    this.params = null; // latest tolaria.model.params
    this.onSelect = onSelect;
    this.signature = '';
    this.summary = h('span', { class: 'arch-summary', dataset: { testid: 'arch-summary' } });
    this.hostNote = h('span', { class: 'muted mono' });
    this.flow = h('div', { class: 'arch-flow', dataset: { testid: 'arch-flow' } });
    // pointerdown, not click: a live re-render between press and release
    // would otherwise swallow the click.
    this.flow.addEventListener('pointerdown', (e) => this.pick(e));
    this.flow.addEventListener('keydown', (e) => { if (e.key === 'Enter') this.pick(e); });
    this.el = h('section', { class: 'panel', id: 'architecture', dataset: { testid: 'architecture' } },
      h('div', { class: 'panel-head' }, h('h3', {}, 'Architecture'), this.hostNote,
        h('span', { class: 'spacer' }), this.summary,
        href ? h('a', { href, class: 'btn btn-small', title: 'A link to this view' }, 'Link') : ''),
      h('div', { class: 'panel-body arch-body' }, this.flow));
    this.el.architecture = this; // tests and the console can reach the live object
    this.schedule = frameScheduler(() => this.render());
    this.schedule();
  }

  pick(e) {
    const card = e.target.closest?.('[data-seed-id]');
    if (card && this.flow.contains(card)) this.onSelect?.(card.dataset.seedId);
  }

  setHost(attrs) {
    if (attrs && Array.isArray(attrs.blocks)) {
      this.host = attrs;
      if (this.params === null && Number.isFinite(attrs.params)) this.params = attrs.params;
      this.schedule();
    }
  }

  setSlots(names) {
    this.slotNames = names ?? [];
    this.schedule();
  }

  setSeeds(seeds) {
    this.seeds = seeds;
    this.schedule();
  }

  setLineage(store) {
    this.lineage = store;
    this.schedule();
  }

  setParams(value) {
    if (Number.isFinite(value)) {
      this.params = value;
      this.schedule();
    }
  }

  blocks() {
    const described = this.host?.blocks ?? [];
    const out = described.map((b) => ({ ...b, slot: b.slot ?? b.name }));
    const known = new Set(out.map((b) => b.slot));
    for (const name of this.slotNames) {
      if (!known.has(name)) { out.push({ name, slot: name, layers: [], params: null, shape: [] }); known.add(name); }
    }
    for (const s of this.seeds) {
      if (s.slot && s.slot !== '?' && !known.has(s.slot)) {
        out.push({ name: s.slot, slot: s.slot, layers: [], params: null, shape: [] });
        known.add(s.slot);
      }
    }
    return out;
  }

  // Per slot: the live seed, the fossils merged into the block, the ended seeds.
  bySlot() {
    const slots = new Map();
    for (const s of this.seeds) {
      const entry = slots.get(s.slot) ?? { live: null, fossils: [], ended: [] };
      const row = this.lineage?.get(s.id);
      const seed = { id: s.id, slot: s.slot, blueprint: s.blueprint !== '?' ? s.blueprint : (row?.blueprint ?? '?'),
        stage: s.stage ?? row?.stage, alpha: s.alpha ?? row?.alpha ?? 0,
        params: s.params ?? row?.params, since: s.segments?.at(-1)?.start,
        ended: row?.ended_step ?? s.segments?.find((g) => ENDED_STAGES.has(g.stage) || g.stage === 'FOSSILIZED')?.start,
        standing: standing(s, this.lineage) };
      if (seed.standing === 'live') entry.live = seed;
      else if (seed.standing === 'fossilised') entry.fossils.push(seed);
      else entry.ended.push(seed);
      slots.set(s.slot, entry);
    }
    return slots;
  }

  totals(slots) {
    let live = 0;
    let fossil = 0;
    for (const e of slots.values()) {
      if (e.live) live += e.live.params ?? 0;
      for (const f of e.fossils) fossil += f.params ?? 0;
    }
    const host = this.host?.host_params ?? null;
    return { host, live, fossil, total: this.params ?? (host !== null ? host + live + fossil : null) };
  }

  render() {
    const blocks = this.blocks();
    const slots = this.bySlot();
    const t = this.totals(slots);
    const signature = JSON.stringify([this.host?.host, blocks.length, [...slots], t]);
    if (signature === this.signature) return;
    this.signature = signature;
    this.el.dataset.blocks = String(blocks.length);
    this.el.dataset.params = t.total === null ? '' : String(t.total);
    this.hostNote.textContent = hostLabel(this.host);
    replace(this.summary,
      t.host !== null ? ['host ', h('b', {}, count(t.host))] : '',
      t.fossil ? [' + fossilised ', h('b', { class: 'fossil-ink' }, count(t.fossil))] : '',
      t.live ? [' + live seeds ', h('b', {}, count(t.live))] : '',
      t.total !== null ? [' = ', h('b', { dataset: { testid: 'arch-total' } }, count(t.total)), ' params'] : '');
    if (!blocks.length) {
      replace(this.flow, h('p', { class: 'empty' }, 'The host has not been reported yet: it is described when training starts.'));
      return;
    }
    const input = this.host?.args?.in_dim ?? this.host?.args?.in_ch;
    const head = this.host?.head ?? [];
    replace(this.flow,
      h('div', { class: 'arch-node' }, h('b', {}, 'input'), input ? h('span', { class: 'mono' }, String(input)) : ''),
      blocks.map((b) => [h('span', { class: 'arch-arrow', 'aria-hidden': 'true' }, '→'),
        this.column(b, slots.get(b.slot) ?? { live: null, fossils: [], ended: [] })]),
      head.length ? [h('span', { class: 'arch-arrow', 'aria-hidden': 'true' }, '→'),
        h('div', { class: 'arch-node', dataset: { testid: 'arch-head' } }, h('b', {}, 'head'),
          head.map((l) => h('span', { class: 'mono' }, l)),
          h('span', { class: 'muted' }, `${count(this.host?.head_params)} params`))] : '');
  }

  column(block, entry) {
    const merged = entry.fossils.reduce((n, f) => n + (f.params ?? 0), 0);
    const state = entry.fossils.length ? 'fossilised' : entry.live ? 'live'
      : entry.ended.some((e) => e.stage === 'EMBARGOED' || e.stage === 'RESETTING') ? 'embargoed' : 'empty';
    const hostBlock = h('div', { class: `arch-block ${entry.fossils.length ? 'grown' : ''}`,
      dataset: { testid: 'arch-block', block: block.name, merged: String(entry.fossils.length) } },
      h('div', { class: 'arch-title' }, h('b', {}, block.name),
        h('span', { class: 'muted' }, block.params === null || block.params === undefined ? ''
          : `${count(block.params + merged)} params`)),
      (block.layers ?? []).map((l) => h('div', { class: 'mono arch-layer' }, l)),
      entry.fossils.map((f) => h('div', { class: 'arch-fossil', tabindex: 0, role: 'button',
        title: `Fossilised seed ${f.id}: open its lineage`, dataset: { seedId: f.id, testid: 'arch-fossil' } },
        h('span', {}, '+ ', h('b', {}, f.blueprint), ` (${shortId(f.id)})`),
        h('span', { class: 'muted' }, `${count(f.params)} params · fossilised${Number.isFinite(f.ended) ? ` @${f.ended}` : ''}`))));
    return h('div', { class: 'arch-col' }, hostBlock,
      h('div', { class: `arch-slot ${state}`, dataset: { testid: 'arch-slot', slot: block.slot, state } },
        h('div', { class: 'arch-title' }, h('span', {}, 'slot ', h('b', {}, block.slot)),
          h('span', { class: 'muted mono' }, shape(block.shape))),
        entry.live ? this.seedCard(entry.live)
          : h('div', { class: 'muted arch-empty' }, state === 'fossilised' ? 'merged into the block'
            : state === 'embargoed' ? 'embargoed after a cull' : 'empty'),
        entry.ended.length ? h('div', { class: 'arch-ended' }, entry.ended.map((e) =>
          h('span', { class: 'arch-ended-seed', tabindex: 0, role: 'button', title: `Open the lineage of ${e.id}`,
            dataset: { seedId: e.id, testid: 'arch-ended' } },
          `${e.standing} ${e.blueprint} (${shortId(e.id)})`))) : ''));
  }

  seedCard(s) {
    const alpha = Math.max(0, Math.min(1, Number(s.alpha) || 0));
    return h('div', { class: 'arch-seed', tabindex: 0, role: 'button', title: `Seed ${s.id}: open its lineage`,
      dataset: { testid: 'arch-seed', seedId: s.id, stage: s.stage ?? '', blueprint: s.blueprint,
        alpha: String(alpha), params: String(s.params ?? '') } },
      h('div', { class: 'arch-title' }, h('b', {}, s.blueprint), pill('stage', s.stage ?? 'UNKNOWN')),
      h('div', { class: 'arch-alpha', title: `alpha ${fmtNum(alpha, 3)}` },
        h('i', { style: { width: `${alpha * 100}%` } })),
      h('div', { class: 'muted' }, `α ${alpha.toFixed(2)} · ${count(s.params)} params · ${shortId(s.id)}`));
  }
}
