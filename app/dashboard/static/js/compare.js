// Compare view (#/compare?runs=<id>,<id>,...): 2 to 10 runs overlaid on shared
// axes, one chart per metric, x as step, epoch, wall time or cumulative training
// FLOPs (when the runs report `tolaria.compute.flops`), and a table of where the
// specs differ. Curves come from the bucketed history at the chart's width.
// Epoch and wall time are interpolated between the validation packets (one per
// epoch end: step, epoch, ts); FLOPs between the FLOPs readings.

import uPlot from '../vendor/uplot/uPlot.esm.js';
import { api } from './api.js';
import { fmtNum, h, replace, runLabel, shortId } from './dom.js';
import { flatSpec, COMPARE_MAX } from './runslist.js';

const FLOPS = 'tolaria.compute.flops';
const ANCHOR = 'tolaria.validation.loss';
const METRICS = [
  { id: 'loss', title: 'Training loss', names: ['tolaria.training.loss', 'tolaria.step.loss'] },
  { id: 'accuracy', title: 'Training accuracy', names: ['tolaria.training.accuracy'] },
  { id: 'val_accuracy', title: 'Validation accuracy', names: ['tolaria.validation.accuracy'] },
  { id: 'step_time', title: 'Step time (ms)', names: ['tolaria.step.latency_ms'] },
  { id: 'flops', title: 'Cumulative training FLOPs', names: [FLOPS] },
  { id: 'params', title: 'Parameters', names: ['tolaria.model.params'] },
];
const PALETTE = ['#2563c9', '#d9480f', '#2b8a3e', '#9c36b5', '#e67700', '#0b7285', '#c2255c', '#5c940d', '#364fc7', '#862e9c'];
const AXES = { step: 'step', epoch: 'epoch', time: 'wall time (s)', flops: 'training FLOPs' };

export function parseCompareHash(hash) {
  const query = hash.split('?')[1] ?? '';
  const ids = new URLSearchParams(query).get('runs') ?? '';
  return [...new Set(ids.split(',').map((s) => s.trim()).filter(Boolean))];
}

// Piecewise-linear x(step) through sorted anchors [[step, x], ...].
export function interpolator(anchors) {
  const pts = anchors.filter(([s, x]) => Number.isFinite(s) && Number.isFinite(x)).sort((a, b) => a[0] - b[0]);
  return (step) => {
    if (pts.length < 2) return null;
    let i = pts.findIndex(([s]) => s >= step);
    if (i === -1) i = pts.length - 1; // past the last anchor: extend the last segment
    if (i === 0) i = 1;
    const [s0, x0] = pts[i - 1];
    const [s1, x1] = pts[i];
    return s1 === s0 ? x1 : x0 + ((step - s0) * (x1 - x0)) / (s1 - s0);
  };
}

async function anchorsOf(run) {
  const page = await api.packets(run.id, { names: [ANCHOR], kind: 'metric', limit: 5000 });
  const start = Date.parse(run.started_at ?? run.created_at);
  const epoch = [[0, 0]];
  const time = [[0, 0]];
  for (const p of page?.items ?? []) {
    if (!Number.isFinite(p.step)) continue;
    epoch.push([p.step, (p.epoch ?? 0) + 1]); // validation closes epoch p.epoch (0-based)
    time.push([p.step, (Date.parse(p.ts) - start) / 1000]);
  }
  return { epoch, time };
}

class CompareView {
  constructor(root, runs) {
    this.root = root;
    this.runs = runs;
    this.xAxis = 'step';
    this.plots = [];
    this.data = new Map(); // run id -> {byName: Map name -> buckets, anchors}
    this.chartsBox = h('div', { class: 'compare-grid', dataset: { testid: 'compare-charts' } });
    this.axisSelect = h('select', { dataset: { testid: 'compare-x' }, 'aria-label': 'x axis',
      onchange: (e) => { this.xAxis = e.target.value; this.draw(); } },
    Object.entries(AXES).map(([v, l]) => h('option', { value: v, hidden: v === 'flops' }, l)));
    replace(root,
      h('div', { class: 'panel pad', dataset: { testid: 'compare-head' } },
        h('h1', {}, `Compare ${runs.length} runs`),
        h('p', {}, runs.map((r, i) => h('span', { class: 'legend-item', dataset: { runId: r.id } },
          h('i', { class: 'swatch', style: { background: PALETTE[i] } }),
          h('a', { href: `#/runs/${r.id}` }, runLabel(r)), ' ', h('span', { class: 'muted mono' }, shortId(r.id)), '  '))),
        h('label', { class: 'chart-toolbar' }, 'x axis ', this.axisSelect)),
      this.chartsBox,
      this.diffTable());
  }

  diffTable() {
    const flat = this.runs.map((r) => flatSpec({ ...r.spec, labels: undefined }));
    const keys = [...new Set(flat.flatMap((f) => Object.keys(f)))].sort();
    const differing = keys.filter((k) => new Set(flat.map((f) => JSON.stringify(f[k] ?? null))).size > 1);
    const rows = differing.length ? differing.map((k) => h('tr', { dataset: { key: k } }, h('th', { class: 'mono' }, k),
      flat.map((f) => h('td', { class: 'num mono differs' }, f[k] === undefined ? '–' : String(f[k])))))
      : [h('tr', {}, h('td', { class: 'empty', colspan: this.runs.length + 1 }, 'The specs are identical.'))];
    return h('section', { class: 'panel' },
      h('div', { class: 'panel-head' }, h('h3', {}, `Spec differences (${differing.length} of ${keys.length} fields)`)),
      h('div', { class: 'panel-body flush scroll' }, h('table', { class: 'diff-table', dataset: { testid: 'spec-diff' } },
        h('thead', {}, h('tr', {}, h('th', {}, 'field'), this.runs.map((r, i) => h('th', {},
          h('i', { class: 'swatch', style: { background: PALETTE[i] } }), runLabel(r))))),
        h('tbody', {}, rows))));
  }

  async load() {
    const names = METRICS.flatMap((m) => m.names);
    const width = Math.max(300, Math.round(this.chartsBox.clientWidth / 2) || 600);
    await Promise.all(this.runs.map(async (run) => {
      const [series, anchors] = await Promise.all([api.series(run.id, names, width), anchorsOf(run)]);
      const byName = new Map();
      for (const b of series?.buckets ?? []) {
        if (!byName.has(b.name)) byName.set(b.name, []);
        byName.get(b.name).push(b);
      }
      const flops = (byName.get(FLOPS) ?? []).map((b) => [b.step_end, b.last]);
      this.data.set(run.id, { byName, x: {
        step: (s) => s,
        epoch: interpolator(anchors.epoch),
        time: interpolator(anchors.time),
        flops: flops.length ? interpolator([[0, 0], ...flops]) : () => null,
      } });
    }));
    const hasFlops = [...this.data.values()].some((d) => d.byName.has(FLOPS));
    this.axisSelect.querySelector('option[value=flops]').hidden = !hasFlops;
    this.chartsBox.dataset.loaded = 'true';
    this.draw();
  }

  // One table per run [x[], y[]], joined on x for uPlot.
  tables(metric) {
    return this.runs.map((run) => {
      const d = this.data.get(run.id);
      const name = metric.names.find((n) => d?.byName.has(n));
      const pts = (name ? d.byName.get(name) : [])
        .map((b) => [d.x[this.xAxis](b.step_end), b.last]).filter(([x]) => Number.isFinite(x));
      pts.sort((a, b) => a[0] - b[0]);
      return [pts.map((p) => p[0]), pts.map((p) => p[1])];
    });
  }

  draw() {
    this.plots.forEach((p) => p.destroy());
    this.plots = [];
    const panels = [];
    for (const metric of METRICS) {
      const tables = this.tables(metric);
      const points = tables.reduce((n, t) => n + t[0].length, 0);
      if (!points) continue;
      const box = h('div', { class: 'plot' });
      panels.push(h('section', { class: 'panel chart', dataset: { testid: `compare-${metric.id}`,
        series: tables.filter((t) => t[0].length).length, points } },
      h('div', { class: 'chart-title' }, h('h3', {}, metric.title)), box));
      this.pending = this.pending ?? [];
      this.pending.push([box, tables]);
    }
    replace(this.chartsBox, panels);
    for (const [box, tables] of this.pending ?? []) {
      const width = Math.max(300, box.clientWidth || 500);
      this.plots.push(new uPlot({
        width, height: 220, legend: { live: false },
        scales: { x: { time: false } },
        axes: [{ stroke: '#7a8699', grid: { stroke: '#eef1f5' }, label: AXES[this.xAxis], labelSize: 18,
          values: (u, vals) => vals.map((v) => fmtNum(v, 3)) },
        { stroke: '#7a8699', grid: { stroke: '#eef1f5' }, size: 72, values: (u, vals) => vals.map((v) => fmtNum(v, 3)) }],
        series: [{ label: AXES[this.xAxis] }, ...this.runs.map((r, i) => ({
          label: runLabel(r), stroke: PALETTE[i], width: 1.5, spanGaps: true, points: { show: false } }))],
      }, uPlot.join(tables), box));
    }
    this.pending = [];
    this.chartsBox.dataset.x = this.xAxis;
  }

  dispose() {
    this.plots.forEach((p) => p.destroy());
  }
}

export async function renderCompare(root, hash) {
  const ids = parseCompareHash(hash);
  if (ids.length < 2 || ids.length > COMPARE_MAX) {
    replace(root, h('div', { class: 'panel pad', dataset: { testid: 'compare-error' } },
      h('h1', {}, 'Compare runs'), h('p', {}, `Choose 2 to ${COMPARE_MAX} runs in the runs list (got ${ids.length}).`),
      h('p', {}, h('a', { href: '#/' }, '← Back to the fleet'))));
    return () => {};
  }
  let runs;
  try {
    runs = await Promise.all(ids.map((id) => api.run(id)));
  } catch (err) {
    replace(root, h('div', { class: 'panel pad', dataset: { testid: 'compare-error' } },
      h('h1', {}, 'Could not load the runs'), h('p', {}, err.message),
      h('p', {}, h('a', { href: '#/' }, '← Back to the fleet'))));
    return () => {};
  }
  const view = new CompareView(root, runs);
  view.load();
  return () => view.dispose();
}
