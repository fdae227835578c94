// Metric charts. Each series is a list of step buckets {step_start, step_end, min,
// max, last, count}: the same shape as the server's TelemetryBucket, so history
// at a chosen resolution and live points merge into one list. When a series
// passes its cap, adjacent buckets merge pairwise (width doubles), so a run of a
// million steps costs the same to draw as one of a thousand, and the min/max
// envelope keeps spikes visible after decimation.
//
// A chart shows a gap only where the server reports one (a `telemetry.gap`
// event on the socket): metrics come at their own cadence (training accuracy
// every 10th step, validation once an epoch) and buckets span many steps, so
// the spacing between points says nothing about missing data.
//
// History is asked for at one bucket per pixel of the chart's width; a drag
// zooms and fetches finer buckets for that step range (`step_from`/`step_to`);
// live points keep arriving underneath without resetting the zoom.

import uPlot from '../vendor/uplot/uPlot.esm.js';
import { cssVar, fmtNum, h, throttle } from './dom.js';

// Redraw at most ten times a second: smooth to the eye, cheap under bursts.
const DRAW_MS = 100;

const MAX_BUCKETS = 1200;

export class BucketSeries {
  constructor(max = MAX_BUCKETS) {
    this.max = max;
    this.buckets = [];
    this.width = 1;
    this.gaps = []; // [from, to] step ranges the server said are lost
    this.gapAfter = null; // a gap was reported after this step; closed by the next point
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
    this.buckets = hist.concat(this.buckets.filter((b) => b.step_start > end));
    this.compact();
  }

  append(step, value) {
    if (!Number.isFinite(value) || !Number.isFinite(step)) return;
    if (this.gapAfter !== null) {
      if (step - 1 >= this.gapAfter + 1) this.gaps.push([this.gapAfter + 1, step - 1]);
      this.gapAfter = null;
    }
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

  // The server reported lost packets here: the stretch up to the next point is a gap.
  markGap() {
    if (this.lastStep !== null) this.gapAfter = this.lastStep;
  }

  truncate(step) {
    this.buckets = this.buckets.filter((b) => b.step_start < step);
    this.gaps = this.gaps.filter(([from]) => from < step);
    const tail = this.buckets[this.buckets.length - 1];
    if (tail && tail.step_end >= step) tail.step_end = step - 1;
  }

  compact() {
    if (this.buckets.length <= this.max) return;
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

  // Step ranges with no data: only those the server reported.
  holes() {
    return this.gaps.slice();
  }

  table() {
    return [this.buckets.map((b) => b.step_end), this.buckets.map((b) => b.last)];
  }
}

const clamp = (v, lo, hi) => Math.min(hi, Math.max(lo, v));

// Exponential moving average of a line (alpha 0: the raw values).
export function ema(values, alpha) {
  if (!alpha) return values;
  let acc = null;
  return values.map((v) => {
    if (v === null || v === undefined) return v;
    acc = acc === null ? v : alpha * acc + (1 - alpha) * v;
    return acc;
  });
}

// Cursor order of two stream ids `ms-seq` (null sorts first).
export function cursorBefore(a, b) {
  const key = (c) => String(c).split('-').map(Number);
  const [am, as] = key(a);
  const [bm, bs] = key(b);
  return am < bm || (am === bm && as < bs);
}

// One chart: several named series (e.g. train and validation loss) over steps.
// `names`: series key -> the metric names that feed it; `loader({names,
// resolution, stepFrom, stepTo})` answers with a TelemetrySeries; `onExport(format)`
// downloads the chart's series at full resolution.
export class MetricChart {
  constructor({ title, series, range = null, digits = 4, testid, height = 190, wide = false,
    names = {}, loader = null, onExport = null }) {
    this.height = height;
    this.title = title;
    this.defs = series; // [{key, label, colourVar, envelope}]
    this.data = new Map(series.map((s) => [s.key, new BucketSeries()]));
    this.names = names;
    this.loader = loader;
    this.range = range;
    this.digits = digits;
    this.zoom = null; // {from, to, data: Map key -> buckets | null while loading}
    this.zoomToken = 0;
    this.smoothing = 0;
    this.latest = h('span', { class: 'latest' });
    this.holesNote = h('div', { class: 'holes', hidden: true });
    this.plotBox = h('div', { class: 'plot', title: 'Drag to zoom; double-click to reset' });
    this.resetButton = h('button', { type: 'button', class: 'btn btn-small', hidden: true,
      dataset: { testid: 'zoom-reset' }, onclick: () => this.resetZoom() }, 'Reset zoom');
    const exportButton = (format) => onExport && h('button', { type: 'button',
      class: 'btn btn-small', title: `Download every point of this chart as ${format.toUpperCase()}`,
      dataset: { testid: `export-${format}` }, onclick: () => onExport(format) }, format.toUpperCase());
    this.el = h('section', { class: `panel chart ${wide ? 'wide' : ''}`, dataset: { testid, points: 0 } },
      h('div', { class: 'chart-title' }, h('h3', {}, title), this.latest,
        h('span', { class: 'chart-tools' }, this.resetButton, exportButton('csv'), exportButton('json'))),
      this.plotBox, this.holesNote);
    this.el.chart = this; // tests and the console can reach the live object
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

  markGap() {
    for (const s of this.data.values()) s.markGap();
  }

  setSmoothing(alpha) {
    this.smoothing = clamp(Number(alpha) || 0, 0, 0.999);
    this.el.dataset.smoothing = String(this.smoothing);
    this.schedule();
  }

  // The primary series (first) is the one whose continuity the chart reports.
  primary() {
    return this.data.get(this.defs[0].key);
  }

  // One bucket per pixel of the plot's width: finer is invisible, coarser hides spikes.
  resolution() {
    return clamp(Math.round(this.plotBox.clientWidth || 600), 50, 5000);
  }

  allNames() {
    return Object.values(this.names).flat();
  }

  byKey(series) {
    const keyOf = new Map(Object.entries(this.names).flatMap(([key, ns]) => ns.map((n) => [n, key])));
    const out = new Map(this.defs.map((d) => [d.key, []]));
    for (const b of series?.buckets ?? []) {
      const key = keyOf.get(b.name);
      if (key) out.get(key).push(b);
    }
    return out;
  }

  // History at this chart's width; returns the series (its cursor resumes the socket).
  async loadHistory() {
    const series = await this.loader({ names: this.allNames(), resolution: this.resolution() });
    for (const [key, buckets] of this.byKey(series)) if (buckets.length) this.setHistory(key, buckets);
    this.el.dataset.resolution = String(this.resolution());
    return series;
  }

  async zoomTo(from, to) {
    const lo = Math.max(0, Math.floor(from));
    const hi = Math.ceil(to);
    if (!this.loader || hi - lo < 2) return;
    const token = ++this.zoomToken;
    this.zoom = { from: lo, to: hi, data: null };
    this.resetButton.hidden = false;
    this.plot?.setScale('x', { min: lo, max: hi });
    let series;
    try {
      series = await this.loader({ names: this.allNames(), resolution: this.resolution(), stepFrom: lo, stepTo: hi });
    } catch { return; }
    if (token !== this.zoomToken) return; // reset or zoomed again meanwhile
    this.zoom.data = this.byKey(series);
    const widths = [...this.zoom.data.values()].flat().map((b) => b.step_end - b.step_start + 1);
    Object.assign(this.el.dataset, { zoomFrom: lo, zoomTo: hi,
      zoomWidth: widths.length ? Math.max(...widths) : 0 });
    this.render();
  }

  resetZoom() {
    this.zoomToken += 1;
    this.zoom = null;
    this.resetButton.hidden = true;
    for (const k of ['zoomFrom', 'zoomTo', 'zoomWidth']) delete this.el.dataset[k];
    this.plot?.setData(this.aligned());
    this.render();
  }

  // The buckets drawn for one series: the zoom's finer ones, then live points past it.
  shown(key) {
    const all = this.data.get(key).buckets;
    const fine = this.zoom?.data?.get(key);
    if (!fine) return all;
    const end = fine.length ? fine[fine.length - 1].step_end : this.zoom.to;
    return fine.concat(all.filter((b) => b.step_start > end));
  }

  build(width) {
    const defs = this.defs;
    const opts = {
      width, height: this.height,
      // A static legend: hover values would jump around under the title.
      legend: { live: false },
      cursor: {
        drag: { x: true, y: false, setScale: false },
        bind: { dblclick: () => () => { this.resetZoom(); return null; } },
      },
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
          // A count that holds until it changes (parameters): steps, not slopes.
          ...(d.stepped ? { paths: uPlot.paths.stepped({ align: 1 }) } : {}),
          // Markers help sparse series (validation per epoch) and clutter dense ones.
          points: { show: () => Boolean(d.points) && this.shown(d.key).length <= 80, size: 5 },
          value: (u, v) => fmtNum(v, this.digits),
        })),
      ],
      hooks: {
        drawAxes: [(u) => this.drawUnderlay(u)],
        setSelect: [(u) => {
          if (u.select.width < 4) return;
          const from = u.posToVal(u.select.left, 'x');
          const to = u.posToVal(u.select.left + u.select.width, 'x');
          u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
          this.zoomTo(from, to);
        }],
      },
    };
    return new uPlot(opts, this.aligned(), this.plotBox);
  }

  aligned() {
    const tables = this.defs.map((d) => {
      const buckets = this.shown(d.key);
      return [buckets.map((b) => b.step_end), ema(buckets.map((b) => b.last), this.smoothing)];
    });
    if (tables.every((t) => t[0].length === 0)) return [[], ...this.defs.map(() => [])];
    return uPlot.join(tables);
  }

  // Min/max band of series whose buckets hold several points, and shaded gaps,
  // under the lines.
  drawUnderlay(u) {
    const { ctx } = u;
    const { left, top, width, height } = u.bbox;
    ctx.save();
    ctx.beginPath();
    ctx.rect(left, top, width, height);
    ctx.clip();
    this.defs.forEach((d) => {
      const buckets = this.shown(d.key);
      if (!d.envelope || !buckets.some((b) => b.count > 1)) return;
      ctx.fillStyle = cssVar(d.colourVar);
      ctx.globalAlpha = 0.15;
      ctx.beginPath();
      buckets.forEach((b, i) => {
        const x = u.valToPos(b.step_end, 'x', true);
        const y = u.valToPos(b.max, 'y', true);
        if (i === 0) ctx.moveTo(x, y); else ctx.lineTo(x, y);
      });
      for (let i = buckets.length - 1; i >= 0; i -= 1) {
        const b = buckets[i];
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
    if (this.zoom) {
      // Keep the zoomed range while live points arrive beyond it.
      this.plot.setData(this.aligned(), false);
      this.plot.setScale('x', { min: this.zoom.from, max: this.zoom.to });
    } else {
      this.plot.setData(this.aligned());
    }
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
