// Seed swimlane: one row per seed, its Kasmina stage over optimizer steps,
// coloured by stage (the same colours as every stage chip on the page). During
// BLENDING the bar fills from the bottom with alpha, so the ramp is visible.
// Drawn on one canvas: thousands of steps and dozens of seeds stay cheap.

import { cssVar, h, replace, shortId, throttle } from './dom.js';

export const STAGES = ['DORMANT', 'GERMINATED', 'TRAINING', 'BLENDING', 'SHADOWING',
  'PROBATIONARY', 'FOSSILIZED', 'CULLED', 'EMBARGOED', 'RESETTING'];
export const LIVE_STAGES = new Set(['GERMINATED', 'TRAINING', 'BLENDING', 'SHADOWING',
  'PROBATIONARY']);
const MAX_ALPHA_SAMPLES = 400;
const LABEL_W = 200;
const ROW_H = 22;
const ROW_GAP = 5;
const AXIS_H = 22;

export function stageLegend() {
  return h('div', { class: 'legend' }, STAGES.map((s) =>
    h('span', {}, h('i', { style: { '--dot': `var(--stage-${s})` } }), s.toLowerCase())));
}

function textColour(hex) {
  const m = /^#?([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(hex);
  if (!m) return '#fff';
  const [r, g, b] = m.slice(1).map((x) => parseInt(x, 16));
  return 0.299 * r + 0.587 * g + 0.114 * b > 160 ? '#1b2430' : '#fff';
}

export class Swimlane {
  // `describe(seed)`: extra tooltip lines for a seed (its lineage); `onSelect(seed)`:
  // a row was clicked.
  constructor({ describe = null, onSelect = null } = {}) {
    this.describe = describe;
    this.onSelect = onSelect;
    this.seeds = new Map(); // seed_id -> {id, slot, blueprint, stage, alpha, segments, alphas}
    this.step = 0;
    this.canvas = h('canvas', { 'aria-label': 'Seed stages over steps', role: 'img' });
    this.tip = h('div', { class: 'swim-tip', hidden: true, dataset: { testid: 'swim-tip' } });
    this.emptyNote = h('p', { class: 'empty' },
      'No seeds yet. Tamiyo germinates them when training plateaus, or an operator adds one.');
    this.el = h('div', { class: 'swimlane', dataset: { testid: 'swimlane', seeds: 0 } },
      this.emptyNote, this.canvas, this.tip);
    this.schedule = throttle(() => this.draw(), 100);
    this.canvas.addEventListener('mousemove', (e) => this.hover(e));
    this.canvas.addEventListener('mouseleave', () => { this.tip.hidden = true; });
    this.canvas.addEventListener('click', (e) => {
      const s = this.rowAt(e);
      if (s && this.onSelect) this.onSelect(s);
    });
    if (onSelect) this.canvas.style.cursor = 'pointer';
    this.el.swimlane = this; // tests and the console can reach the live object
    // Width from the observer: reading clientWidth while drawing forces a layout.
    this.width = 0;
    this.resize = new ResizeObserver((entries) => {
      this.width = entries[0].contentRect.width;
      this.schedule();
    });
    this.resize.observe(this.el);
  }

  seed(info) {
    const id = info.seed_id ?? info.id;
    if (!id) return null;
    let s = this.seeds.get(id);
    if (!s) {
      s = { id, slot: info.slot ?? '?', blueprint: info.blueprint ?? '?', stage: null,
        alpha: 0, segments: [], alphas: [] };
      this.seeds.set(id, s);
    }
    if (info.slot) s.slot = info.slot;
    if (info.blueprint) s.blueprint = info.blueprint;
    if (info.params !== undefined) s.params = info.params;
    if (info.reason) s.reason = info.reason;
    return s;
  }

  // Order-independent: history and live packets may arrive interleaved.
  // `provisional` marks a guess from the REST snapshot (current stage only); the
  // first real transition for that seed replaces it.
  observe(info, step, provisional = false) {
    const s = this.seed(info);
    if (!s) return;
    let at = Number.isFinite(step) ? step : this.step;
    const stage = info.stage ? String(info.stage).toUpperCase() : null;
    if (stage && provisional) {
      // An ended seed's lineage keeps CULLED while its slot moved on (embargo,
      // reset): a stage its real history already holds is not news.
      const seen = s.segments.some((seg) => !seg.provisional && seg.stage === stage);
      if (s.stage !== stage && !seen) {
        at = Math.max(at, s.segments.at(-1)?.start ?? at);
        s.segments.push({ stage, start: at, provisional: true });
        this.refreshStage(s);
      }
    } else if (stage) {
      s.segments = s.segments.filter((seg) => !seg.provisional);
      this.transition(s, stage, at);
    }
    if (Number.isFinite(info.alpha)) {
      s.alpha = info.alpha;
      if (stage === 'BLENDING' || s.stage === 'BLENDING') this.alphaSample(s, at, info.alpha);
    }
    this.setStep(at);
    this.schedule();
  }

  transition(s, stage, step) {
    const segs = s.segments;
    let i = segs.length;
    while (i > 0 && segs[i - 1].start > step) i -= 1;
    if (i > 0 && segs[i - 1].stage === stage) return this.refreshStage(s);
    segs.splice(i, 0, { stage, start: step });
    // Adjacent duplicates after an out-of-order insert collapse into one.
    for (let j = segs.length - 1; j > 0; j -= 1) {
      if (segs[j].stage === segs[j - 1].stage) segs.splice(j, 1);
    }
    return this.refreshStage(s);
  }

  refreshStage(s) {
    s.stage = s.segments.length ? s.segments[s.segments.length - 1].stage : null;
  }

  alphaSample(s, step, alpha) {
    const a = s.alphas;
    if (a.length && a[a.length - 1][0] >= step) {
      if (a[a.length - 1][0] === step) a[a.length - 1][1] = alpha;
      return;
    }
    a.push([step, alpha]);
    if (a.length > MAX_ALPHA_SAMPLES) s.alphas = a.filter((_, i) => i % 2 === 0 || i === a.length - 1);
  }

  setStep(step) {
    if (Number.isFinite(step) && step > this.step) {
      this.step = step;
      this.schedule();
    }
  }

  // After a rollback the run continues from an earlier step: forget what follows.
  truncate(step) {
    for (const s of this.seeds.values()) {
      s.segments = s.segments.filter((seg) => seg.start <= step);
      s.alphas = s.alphas.filter(([x]) => x <= step);
      this.refreshStage(s);
      if (!s.segments.length) this.seeds.delete(s.id);
    }
    this.step = step;
    this.schedule();
  }

  list() {
    return [...this.seeds.values()].sort((a, b) =>
      (a.segments[0]?.start ?? 0) - (b.segments[0]?.start ?? 0) || a.slot.localeCompare(b.slot));
  }

  geometry() {
    const { width } = this;
    const rows = this.list();
    const end = Math.max(this.step, ...rows.map((s) => (s.segments.at(-1)?.start ?? 0) + 1), 1);
    const plotW = Math.max(50, width - LABEL_W - 12);
    const x = (step) => LABEL_W + (step / end) * plotW;
    return { width, rows, end, plotW, x, height: rows.length * (ROW_H + ROW_GAP) + AXIS_H + 6 };
  }

  draw() {
    const g = this.geometry();
    this.el.dataset.seeds = String(g.rows.length);
    this.emptyNote.hidden = g.rows.length > 0;
    this.canvas.hidden = g.rows.length === 0;
    if (!g.rows.length || g.width === 0) return;
    const dpr = window.devicePixelRatio || 1;
    const [w, hgt] = [Math.round(g.width * dpr), Math.round(g.height * dpr)];
    if (this.canvas.width !== w || this.canvas.height !== hgt) {
      this.canvas.width = w;
      this.canvas.height = hgt;
      this.canvas.style.height = `${g.height}px`;
    }
    const ctx = this.canvas.getContext('2d');
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, g.width, g.height);
    ctx.font = '12px system-ui, sans-serif';
    ctx.textBaseline = 'middle';
    g.rows.forEach((s, i) => this.drawRow(ctx, g, s, 4 + i * (ROW_H + ROW_GAP)));
    this.drawAxis(ctx, g);
  }

  drawRow(ctx, g, s, y) {
    ctx.fillStyle = '#1b2430';
    ctx.fillText(`${s.slot} · ${s.blueprint}`, 6, y + ROW_H / 2, LABEL_W - 12);
    s.segments.forEach((seg, i) => {
      // Back to DORMANT after RESETTING: the seed is gone and its slot is free.
      if (seg.stage === 'DORMANT' && i > 0) return;
      const next = s.segments[i + 1]?.start ?? g.end;
      const x0 = g.x(seg.start);
      const x1 = Math.max(x0 + 2, g.x(next));
      const colour = cssVar(`--stage-${seg.stage}`);
      ctx.fillStyle = colour;
      ctx.globalAlpha = seg.stage === 'BLENDING' ? 0.25 : (seg.stage === 'DORMANT' ? 0.5 : 1);
      ctx.fillRect(x0, y, x1 - x0, ROW_H);
      ctx.globalAlpha = 1;
      if (seg.stage === 'BLENDING') this.drawAlpha(ctx, g, s, seg.start, next, y, colour, i + 1 < s.segments.length);
      const label = seg.stage.toLowerCase();
      if (ctx.measureText(label).width + 8 < x1 - x0) {
        ctx.fillStyle = seg.stage === 'BLENDING' ? '#1b2430' : textColour(colour);
        ctx.fillText(label, x0 + 4, y + ROW_H / 2);
      }
    });
  }

  // Alpha as a filled area inside the BLENDING bar; a finished ramp with no
  // samples (history only) is drawn as the straight ramp it had to be to pass G3.
  drawAlpha(ctx, g, s, from, to, y, colour, finished) {
    let pts = s.alphas.filter(([step]) => step >= from && step <= to);
    if (!pts.length && finished) pts = [[from, 0], [to, 1]];
    if (!pts.length) return;
    ctx.fillStyle = colour;
    ctx.globalAlpha = 0.85;
    ctx.beginPath();
    ctx.moveTo(g.x(pts[0][0]), y + ROW_H);
    for (const [step, a] of pts) ctx.lineTo(g.x(step), y + ROW_H - Math.max(0, Math.min(1, a)) * ROW_H);
    const lastX = finished ? g.x(to) : g.x(pts[pts.length - 1][0]);
    ctx.lineTo(lastX, y + ROW_H - Math.min(1, pts[pts.length - 1][1]) * ROW_H);
    ctx.lineTo(lastX, y + ROW_H);
    ctx.closePath();
    ctx.fill();
    ctx.globalAlpha = 1;
  }

  drawAxis(ctx, g) {
    const y = g.height - AXIS_H + 4;
    ctx.strokeStyle = '#dde2ea';
    ctx.beginPath();
    ctx.moveTo(LABEL_W, y);
    ctx.lineTo(LABEL_W + g.plotW, y);
    ctx.stroke();
    const raw = g.end / Math.max(1, Math.floor(g.plotW / 90));
    const mag = 10 ** Math.floor(Math.log10(Math.max(1, raw)));
    const stepTick = [1, 2, 5, 10].map((m) => m * mag).find((t) => t >= raw) ?? raw;
    ctx.fillStyle = '#7a8699';
    ctx.textAlign = 'center';
    for (let t = 0; t <= g.end; t += stepTick) ctx.fillText(String(t), g.x(t), y + 10);
    ctx.textAlign = 'left';
    ctx.fillText('step', 6, y + 10);
  }

  rowAt(e) {
    const rect = this.canvas.getBoundingClientRect();
    return this.geometry().rows[Math.floor((e.clientY - rect.top - 4) / (ROW_H + ROW_GAP))] ?? null;
  }

  // Where a seed's row is, in page pixels at `frac` of the plot's width.
  rowPoint(seedId, frac = 0.98) {
    const g = this.geometry();
    const row = g.rows.findIndex((s) => s.id === seedId);
    if (row < 0) return null;
    const rect = this.canvas.getBoundingClientRect();
    return { x: rect.left + LABEL_W + frac * g.plotW, y: rect.top + 4 + row * (ROW_H + ROW_GAP) + ROW_H / 2 };
  }

  hover(e) {
    const g = this.geometry();
    const rect = this.canvas.getBoundingClientRect();
    const px = e.clientX - rect.left;
    const row = Math.floor((e.clientY - rect.top - 4) / (ROW_H + ROW_GAP));
    const s = g.rows[row];
    if (!s || px < LABEL_W) { this.tip.hidden = true; return; }
    const step = Math.round(((px - LABEL_W) / g.plotW) * g.end);
    const idx = s.segments.findLastIndex((seg) => seg.start <= step);
    const seg = s.segments[idx];
    if (!seg) { this.tip.hidden = true; return; }
    const until = s.segments[idx + 1]?.start;
    const alpha = s.alphas.filter(([x]) => x <= step).at(-1)?.[1];
    const line = `seed ${shortId(s.id)} · ${s.slot} · ${s.blueprint} — ${seg.stage} `
      + `from step ${seg.start}${until !== undefined ? ` to ${until}` : ''}`
      + (seg.stage === 'BLENDING' && alpha !== undefined ? ` · α ${alpha.toFixed(2)}` : '');
    if (this.describe) replace(this.tip, h('div', {}, line), this.describe(s));
    else this.tip.textContent = line;
    this.tip.dataset.seedId = s.id;
    this.tip.hidden = false;
    this.tip.style.left = `${Math.max(0, Math.min(px + 12, g.width - (this.describe ? 470 : 320)))}px`;
    this.tip.style.top = `${row * (ROW_H + ROW_GAP) + ROW_H + 8}px`;
  }

  destroy() {
    this.resize.disconnect();
  }
}
