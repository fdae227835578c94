// Metric charts. Each series is a list of step buckets {step_start, step_end, min,
// max, last, count}: the same shape as the server's TelemetryBucket, so history
// at a chosen resolution and live points merge into one list. When a series
// passes its cap, adjacent buckets merge pairwise (width doubles), so a run of a
// million steps costs the same to draw as one of a thousand, and the min/max
// envelope keeps spikes visible after decimation.

import uPlot from '../vendor/uplot/uPlot.esm.js';
import { cssVar, fmtNum, h, throttle } from './dom.js';

// Redraw at most ten times a second: smooth to the eye, cheap under bursts.
const DRAW_MS = 100;

const MAX_BUCKETS = 1200;

// A metric emitted every k steps has buckets k apart; that spacing is no gap.
function historyCadence(buckets) {
  let best = Infinity;
  for (let i = 0; i < buckets.length; i += 1) {
    const b = buckets[i];
    if (b.count > 1) best = Math.min(best, Math.floor((b.step_end - b.step_start) / (b.count - 1)));
    if (i > 0) best = Math.min(best, b.step_start - buckets[i - 1].step_end);
  }
  return Math.max(1, best);
}

export class BucketSeries {
  constructor(max = MAX_BUCKETS) {
    this.max = max;
    this.buckets = [];
    this.width = 1;
    this.cadence = Infinity; // smallest step spacing seen live: what "no gap" means
    this.lastLiveStep = null;
    this.knownHoles = []; // holes seen before a compaction merged their buckets
  }

  get lastStep() {
    return this.buckets.length ? this.buckets[this.buckets.length - 1].step_end : null;
  }

  get lastValue() {
    return this.buckets.length ? this.buckets[this.buckets.length - 1].last : null;
  }

  // History replaces whatever it covers; live buckets beyond it are kept, so the
  // history request and the live socket may overlap in any order.
  setHistory(buckets) {
    const hist = buckets.filter((b) => Number.isFinite(b.last))
      .sort((a, b) => a.step_start - b.step_start)
      .map((b) => ({ ...b }));
    if (!hist.length) return;
    const end = hist[hist.length - 1].step_end;
    const widths = hist.map((b) => b.step_end - b.step_start + 1).sort((a, b) => a - b);
    this.width = Math.max(this.width, widths[Math.floor(widths.length / 2)]);
    this.cadence = Math.min(this.cadence, historyCadence(hist));
    this.buckets = hist.concat(this.buckets.filter((b) => b.step_start > end));
    this.knownHoles = this.knownHoles.filter(([from]) => from > end);
    this.compact();
  }

  append(step, value) {
    if (!Number.isFinite(value) || !Number.isFinite(step)) return;
    if (this.lastLiveStep !== null && step > this.lastLiveStep) {
      this.cadence = Math.min(this.cadence, step - this.lastLiveStep);
    }
    this.lastLiveStep = step;
    const last = this.buckets[this.buckets.length - 1];
    // A step at or before the end can only follow a rollback (the socket drops
    // duplicates by cursor): the restored run rewrites that stretch.
    if (last && step <= last.step_end) this.truncate(step);
    const tail = this.buckets[this.buckets.length - 1];
    if (tail && step < tail.step_start + this.width) {
      tail.step_end = step;
      tail.min = Math.min(tail.min, value);
      tail.max = Math.max(tail.max, value);
      tail.last = value;
      tail.count += 1;
    } else {
      this.buckets.push({ step_start: step, step_end: step, min: value, max: value,
        last: value, count: 1 });
    }
    this.compact();
  }

  truncate(step) {
    this.buckets = this.buckets.filter((b) => b.step_start < step);
    this.knownHoles = this.knownHoles.filter(([from]) => from < step);
    const tail = this.buckets[this.buckets.length - 1];
    if (tail && tail.step_end >= step) tail.step_end = step - 1;
  }

  compact() {
    if (this.buckets.length <= this.max) return;
    // Merging would hide a hole inside a wider bucket: remember it first.
    for (const hole of this.bucketHoles()) {
      if (!this.knownHoles.some(([a, b]) => a === hole[0] && b === hole[1])) this.knownHoles.push(hole);
    }
    const merged = [];
    for (let i = 0; i < this.buckets.length; i += 2) {
      const a = this.buckets[i];
      const b = this.buckets[i + 1];
      merged.push(b ? { step_start: a.step_start, step_end: b.step_end,
        min: Math.min(a.min, b.min), max: Math.max(a.max, b.max), last: b.last,
        count: a.count + b.count } : a);
    }
    this.buckets = merged;
    this.width *= 2;
  }

  // Step ranges with no data, judged by the live cadence (1 when unknown).
  holes() {
    const seen = new Set();
    return [...this.knownHoles, ...this.bucketHoles()].filter(([a, b]) => {
      const key = `${a}:${b}`;
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    }).sort((x, y) => x[0] - y[0]);
  }

  bucketHoles() {
    const stride = Number.isFinite(this.cadence) ? this.cadence : 1;
    const out = [];
    for (let i = 1; i < this.buckets.length; i += 1) {
      const prev = this.buckets[i - 1].step_end;
      const next = this.buckets[i].step_start;
      if (next - prev > stride) out.push([prev + stride, next - stride]);
    }
    return out;
  }

  table() {
    return [this.buckets.map((b) => b.step_end), this.buckets.map((b) => b.last)];
  }
}

// One chart: several named series (e.g. train and validation loss) over steps.
export class MetricChart {
  constructor({ title, series, range = null, digits = 4, testid, height = 190, wide = false }) {
    this.height = height;
    this.title = title;
    this.defs = series; // [{key, label, colourVar, envelope}]
    this.data = new Map(series.map((s) => [s.key, new BucketSeries()]));
    this.range = range;
    this.digits = digits;
    this.latest = h('span', { class: 'latest' });
    this.holesNote = h('div', { class: 'holes', hidden: true });
    this.plotBox = h('div', { class: 'plot' });
    this.el = h('section', { class: `panel chart ${wide ? 'wide' : ''}`, dataset: { testid, points: 0 } },
      h('div', { class: 'chart-title' }, h('h3', {}, title), this.latest),
      this.plotBox, this.holesNote);
    this.schedule = throttle(() => this.render(), DRAW_MS);
    this.plot = null;
    this.resize = new ResizeObserver(() => this.fit());
    this.resize.observe(this.plotBox);
  }

  series(key) {
    return this.data.get(key);
  }

  append(key, step, value) {
    this.data.get(key)?.append(step, value);
    this.schedule();
  }

  setHistory(key, buckets) {
    this.data.get(key)?.setHistory(buckets);
    this.schedule();
  }

  // The primary series (first) is the one whose continuity the chart reports.
  primary() {
    return this.data.get(this.defs[0].key);
  }

  build(width) {
    const defs = this.defs;
    const opts = {
      width, height: this.height,
      // A static legend: hover values would jump around under the title.
      legend: { live: false },
      cursor: { drag: { x: true, y: false } },
      scales: { x: { time: false }, y: this.range ? { range: this.range } : { auto: true } },
      axes: [
        { stroke: '#7a8699', grid: { stroke: '#eef1f5' }, size: 30, label: undefined },
        { stroke: '#7a8699', grid: { stroke: '#eef1f5' }, size: 52,
          values: (u, vals) => vals.map((v) => fmtNum(v, 3)) },
      ],
      series: [
        { label: 'step', value: (u, v) => (v === null || v === undefined ? '–' : v) },
        ...defs.map((d) => ({
          label: d.label, stroke: cssVar(d.colourVar), width: d.width ?? 1.5,
          spanGaps: true, size: 5,
          // Markers help sparse series (validation per epoch) and clutter dense ones.
          points: { show: () => Boolean(d.points) && this.data.get(d.key).buckets.length <= 80, size: 5 },
          value: (u, v) => fmtNum(v, this.digits),
        })),
      ],
      hooks: { drawAxes: [(u) => this.drawUnderlay(u)] },
    };
    return new uPlot(opts, this.aligned(), this.plotBox);
  }

  aligned() {
    const tables = this.defs.map((d) => this.data.get(d.key).table());
    if (tables.every((t) => t[0].length === 0)) return [[], ...this.defs.map(() => [])];
    return uPlot.join(tables);
  }

  // Min/max envelope of decimated series and shaded holes, under the lines.
  drawUnderlay(u) {
    const { ctx } = u;
    const { left, top, width, height } = u.bbox;
    ctx.save();
    ctx.beginPath();
    ctx.rect(left, top, width, height);
    ctx.clip();
    this.defs.forEach((d) => {
      const s = this.data.get(d.key);
      if (!d.envelope || s.width <= 1) return;
      ctx.fillStyle = cssVar(d.colourVar);
      ctx.globalAlpha = 0.15;
      ctx.beginPath();
      s.buckets.forEach((b, i) => {
        const x = u.valToPos(b.step_end, 'x', true);
        const y = u.valToPos(b.max, 'y', true);
        if (i === 0) ctx.moveTo(x, y); else ctx.lineTo(x, y);
      });
      for (let i = s.buckets.length - 1; i >= 0; i -= 1) {
        const b = s.buckets[i];
        ctx.lineTo(u.valToPos(b.step_end, 'x', true), u.valToPos(b.min, 'y', true));
      }
      ctx.closePath();
      ctx.fill();
    });
    ctx.globalAlpha = 0.18;
    ctx.fillStyle = cssVar('--danger');
    for (const [from, to] of this.primary().holes()) {
      const x0 = u.valToPos(from, 'x', true);
      const x1 = u.valToPos(to, 'x', true);
      ctx.fillRect(x0, top, Math.max(2, x1 - x0), height);
    }
    ctx.restore();
  }

  fit() {
    const width = Math.max(200, this.plotBox.clientWidth);
    if (!this.plot) {
      if (this.plotBox.clientWidth === 0) return;
      this.plot = this.build(width);
    } else if (Math.abs(this.plot.width - width) > 2) {
      this.plot.setSize({ width, height: this.height });
    }
  }

  render() {
    this.fit();
    if (!this.plot) return;
    this.plot.setData(this.aligned());
    const primary = this.primary();
    const holes = primary.holes();
    this.el.dataset.points = String(primary.buckets.length);
    this.el.dataset.lastStep = String(primary.lastStep ?? '');
    this.el.dataset.holes = String(holes.length);
    this.latest.textContent = primary.lastStep === null ? 'no data yet'
      : `${fmtNum(primary.lastValue, this.digits)} @ step ${primary.lastStep}`;
    this.holesNote.hidden = holes.length === 0;
    this.holesNote.textContent = holes.length
      ? `No data for steps ${holes.slice(0, 3).map(([a, b]) => (a === b ? a : `${a}–${b}`)).join(', ')}`
        + (holes.length > 3 ? ` and ${holes.length - 3} more ranges` : '')
      : '';
  }

  destroy() {
    this.resize.disconnect();
    this.plot?.destroy();
  }
}
