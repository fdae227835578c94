// Run view (#/runs/<id>): charts, seed swimlane, events, ledger, checkpoints, artifacts,
// attempts, the spec and controls for one run. History comes first at a fixed
// resolution (bounded cost whatever the run's length), then `/ws/runs/{id}` streams
// live packets; on a reconnect the socket resumes after the last cursor it saw, so
// nothing is lost.

import { TERMINAL, api } from './api.js';
import { MetricChart, cursorBefore } from './charts.js';
import { exportMetrics } from './export.js';
import { ArtifactsTable } from './artifacts.js';
import { ARCHITECTURE_EVENT, ArchitectureView, PARAMS_METRIC } from './architecture.js';
import { LineageStore, SeedDetail, lineageTip } from './lineage.js';
import { AttemptsTable, SpecTable } from './runinfo.js';
import { Controls, canCommand } from './controls.js';
import { frameScheduler, h, replace, runLabel } from './dom.js';
import { EventFeed, GAP_EVENT, describe } from './events.js';
import { Ledger, commandFromPacket } from './ledger.js';
import { CheckpointsTable, RunHeader, SeedsTable } from './panels.js';
import { clearConnection, dismissBanner, showBanner, showConnection } from './status.js';
import { Swimlane, stageLegend } from './swimlane.js';
import { LiveSocket } from './ws.js';

const STAGE_EVENT = 'kasmina.seed.stage_changed';
// metric name -> [chart, series key]; the run header's latest figures use the same map.
const METRICS = {
  'tolaria.training.loss': ['loss', 'train', 'loss'],
  'tolaria.step.loss': ['loss', 'train', 'loss'],
  'tolaria.validation.loss': ['loss', 'val', 'val_loss'],
  'tolaria.training.accuracy': ['accuracy', 'train', 'accuracy'],
  'tolaria.validation.accuracy': ['accuracy', 'val', 'val_accuracy'],
  'tolaria.step.latency_ms': ['time', 'step', 'step_time_ms'],
  [PARAMS_METRIC]: ['params', 'params', 'params'],
};
// Events worth replaying on load (exact names, so the query works with or
// without glob support); per-step ones such as tamiyo.decision only live.
const HISTORY_EVENTS = [STAGE_EVENT, 'kasmina.gate_failure', 'kasmina.command_rejected',
  'kasmina.registry_reset', 'tolaria.emergency.escalated', 'tolaria.emergency.halt',
  'tolaria.rollback.restored', 'tolaria.rollback.restore_failed', 'tolaria.tamiyo_timeout',
  'tamiyo.conservative_entered', GAP_EVENT, ARCHITECTURE_EVENT];
const HISTORY_EVENT_PAGES = 6;

function stageFromEvent(p) {
  const a = p.attrs ?? {};
  return { seed_id: a.seed_id, slot: a.slot, blueprint: a.blueprint, params: a.params,
    stage: a.to ?? a.to_stage ?? a.stage ?? a.new ?? (typeof p.value === 'string' ? p.value : null) };
}

// chart -> series key -> the metric names feeding it (from METRICS).
function chartNames(chart) {
  const out = {};
  for (const [name, [c, key]] of Object.entries(METRICS)) {
    if (c === chart) (out[key] = out[key] ?? []).push(name);
  }
  return out;
}

function makeCharts(runId) {
  const loader = ({ names, resolution, stepFrom, stepTo }) =>
    api.series(runId, names, resolution, { stepFrom, stepTo });
  const common = (chart, title) => ({ names: chartNames(chart), loader,
    onExport: (format) => exportMetrics(runId, Object.values(chartNames(chart)).flat(), format,
      `${runId.slice(0, 8)}-${title}`).catch((err) => showBanner('export', 'warn', `Export failed: ${err.message}`)) });
  return {
    loss: new MetricChart({ title: 'Loss', testid: 'chart-loss', ...common('loss', 'loss'), series: [
      { key: 'train', label: 'training', colourVar: '--series-train', envelope: true },
      { key: 'val', label: 'validation', colourVar: '--series-val', points: true, width: 2 }] }),
    accuracy: new MetricChart({ title: 'Accuracy', testid: 'chart-accuracy', range: [0, 1],
      ...common('accuracy', 'accuracy'), series: [
        { key: 'train', label: 'training', colourVar: '--series-train', envelope: true },
        { key: 'val', label: 'validation', colourVar: '--series-val', points: true, width: 2 }] }),
    time: new MetricChart({ title: 'Step time (ms)', testid: 'chart-step-time', height: 110, wide: true,
      ...common('time', 'step-time'),
      series: [{ key: 'step', label: 'step time', colourVar: '--series-time', envelope: true }] }),
    // Around the counts, not from zero: a seed is a few percent of the host.
    params: new MetricChart({ title: 'Parameters', testid: 'chart-params', height: 130, wide: true, digits: 7,
      range: (u, lo, hi) => {
        const pad = Math.max(1, (hi - lo) * 0.2, hi * 0.02);
        return [Math.max(0, lo - pad), hi + pad];
      },
      ...common('params', 'params'), series: [
        { key: 'params', label: 'parameters', colourVar: '--stage-FOSSILIZED', points: true, width: 2, stepped: true }] }),
  };
}

// EMA smoothing for every chart of the page (0: raw).
function smoothingControl(charts) {
  const input = h('input', { type: 'range', min: 0, max: 0.99, step: 0.01, value: 0,
    dataset: { testid: 'smoothing' }, 'aria-label': 'Smoothing (EMA)' });
  const shown = h('span', { class: 'mono' }, '0');
  input.addEventListener('input', () => {
    shown.textContent = input.value;
    Object.values(charts).forEach((c) => c.setSmoothing(input.value));
  });
  return h('label', { class: 'chart-toolbar' }, 'Smoothing (EMA) ', input, ' ', shown,
    h('span', { class: 'muted' }, ' · drag a chart to zoom, double-click to reset · the band is each bucket\'s min–max'));
}

class RunView {
  constructor(root, run, session) {
    Object.assign(this, { root, run, session });
    this.canAct = canCommand(session.role);
    this.checkpoints = [];
    this.caughtUp = new Set();
    this.blueprints = [];
    this.tasks = [];
    this.header = new RunHeader();
    this.charts = makeCharts(run.id);
    this.lineage = new LineageStore(run.id);
    this.detail = new SeedDetail({ lineage: this.lineage });
    this.swimlane = new Swimlane({ describe: (s) => lineageTip(this.lineage.get(s.id)),
      onSelect: (s) => this.detail.show(s.id, s) });
    this.architecture = new ArchitectureView({ href: `#/runs/${encodeURIComponent(run.id)}/architecture`,
      onSelect: (id) => this.detail.show(id, this.swimlane.seeds.get(id)) });
    this.lineage.onChange(() => this.architecture.setLineage(this.lineage));
    this.feed = new EventFeed();
    this.ledger = new Ledger();
    this.cpTable = new CheckpointsTable({ onRollback: this.canAct ? (id) => this.controls.chooseRollback(id) : null });
    this.artifacts = new ArtifactsTable(run.id);
    this.spec = new SpecTable();
    this.attempts = new AttemptsTable(run.id);
    this.seedsTable = new SeedsTable({ onCull: this.canAct ? (s) => this.controls.cullSeed(s) : null });
    // A row opens the seed's lineage (its Cull button keeps its own job).
    this.seedsTable.el.addEventListener('click', (e) => {
      const row = e.target.closest('tr[data-seed-id]');
      if (row && !e.target.closest('button')) this.detail.show(row.dataset.seedId, this.swimlane.seeds.get(row.dataset.seedId));
    });
    this.controls = this.canAct ? new Controls({ run, ledger: this.ledger,
      getCheckpoints: () => this.checkpoints, getSlots: () => this.slots(),
      getBlueprints: () => this.blueprints }) : null;
    this.syncSeeds = frameScheduler(() => {
      const seeds = this.swimlane.list();
      this.seedsTable.update(seeds);
      this.architecture.setSeeds(seeds);
      for (const s of seeds) this.detail.update(s);
      // The run row's counts arrive with progress events; the lane is fresher.
      if (seeds.length) {
        const counts = {};
        for (const s of seeds) if (s.stage) counts[s.stage] = (counts[s.stage] ?? 0) + 1;
        this.run.seeds = counts;
        this.header.update(this.run);
      }
    });
    this.layout();
    this.header.update(run);
    this.spec.update(run.spec);
  }

  layout() {
    const c = this.charts;
    replace(this.root,
      this.header.el,
      this.controls ? this.controls.el : h('p', { class: 'muted', dataset: { testid: 'read-only' } },
        `Read-only: your role (${this.session.role}) cannot send commands.`),
      h('div', { class: 'run-grid' },
        h('div', { class: 'stack' },
          smoothingControl(c),
          h('div', { class: 'charts' }, c.loss.el, c.accuracy.el),
          this.architecture.el,
          h('div', { class: 'charts' }, c.params.el),
          h('section', { class: 'panel' },
            h('div', { class: 'panel-head' }, h('h3', {}, 'Seeds over steps'),
              h('span', { class: 'muted' }, 'hover a seed for its lineage, click for the details')),
            h('div', { class: 'panel-body' }, this.swimlane.el, stageLegend()),
            this.detail.el,
            this.seedsTable.el),
          h('div', { class: 'charts' }, c.time.el),
          this.spec.el),
        h('div', { class: 'stack side' }, this.feed.el, this.ledger.el, this.cpTable.el,
          this.artifacts.el, this.attempts.el)));
    if (this.controls) this.root.querySelector('[data-testid="controls"]').classList.add('run-controls');
  }

  async start() {
    this.loadSide();
    const cursor = await this.loadHistory();
    this.socket = new LiveSocket({
      path: `/ws/runs/${encodeURIComponent(this.run.id)}`, after: cursor,
      onPacket: (p) => this.onPacket(p),
      onStatus: (state, info) => showConnection(`run ${runLabel(this.run)}`, state, info),
      onReconnect: () => this.refresh(),
      onFatal: (code, reason) => this.socketRefused(code, reason),
      onEnded: () => this.refresh(),
      endOnNormalClose: true,
    }).start();
    this.timer = setInterval(() => this.poll(), 10000);
  }

  // Checkpoints, ledger, seeds and (for operators) the catalogue, in parallel.
  loadSide() {
    api.checkpoints(this.run.id).then((cps) => this.setCheckpoints(cps)).catch(() => {});
    this.artifacts.load();
    this.attempts.load(this.run);
    api.commands(this.run.id).then((cmds) => cmds.forEach((c) => this.ledger.upsert(c))).catch(() => {});
    // Stage history first, so the snapshot of seeds only fills in what it lacks.
    this.architecture.setSlots(this.slots());
    this.loadEventHistory().then(() => api.seeds(this.run.id)).then((seeds) => {
      this.lineage.set(seeds);
      for (const s of seeds) this.swimlane.observe(s, s.germinated_step ?? this.run.step, true);
      this.syncSeeds();
    }).catch(() => {});
    api.tasks().then((t) => { this.tasks = t; this.architecture.setSlots(this.slots()); }).catch(() => {});
    if (this.canAct) {
      api.blueprints().then((b) => { this.blueprints = b; }).catch(() => {});
    }
  }

  // Each chart asks for its own history at its own width; the socket resumes
  // from the lowest cursor they cover (anything after it is deduplicated by step).
  async loadHistory() {
    try {
      const all = await Promise.all(Object.values(this.charts).map((c) => c.loadHistory()));
      this.historyEnd = {};
      for (const series of all) {
        for (const b of series?.buckets ?? []) {
          this.historyEnd[b.name] = Math.max(this.historyEnd[b.name] ?? -1, b.step_end);
        }
      }
      this.architecture.setParams(this.charts.params.primary().lastValue);
      const cursors = all.map((s) => s?.cursor).filter(Boolean);
      if (cursors.length < all.length) return null; // one has none: replay from the start
      return cursors.reduce((lo, c) => (cursorBefore(c, lo) ? c : lo));
    } catch (err) {
      // 404: a gateway without the history endpoint; the socket's replay from the
      // start of the stream still fills the charts, so only other errors are news.
      if (err.status !== 404) showBanner('history', 'warn', `Chart history unavailable (${err.message}); showing live data only.`);
      return null;
    }
  }

  async loadEventHistory() {
    let after = null;
    for (let page = 0; page < HISTORY_EVENT_PAGES; page += 1) {
      let data;
      try {
        data = await api.packets(this.run.id, { names: HISTORY_EVENTS, after, limit: 500 });
      } catch { return; }
      for (const p of data?.items ?? []) this.onEvent(p, true);
      after = data?.next_cursor;
      if (!after) return;
    }
  }

  onPacket(p) {
    if (Number.isFinite(p.step)) {
      this.run.step = Math.max(this.run.step ?? 0, p.step);
      this.swimlane.setStep(p.step);
    }
    if (Number.isFinite(p.epoch)) this.run.epoch = Math.max(this.run.epoch ?? 0, p.epoch);
    switch (p.kind) {
      case 'metric': this.onMetric(p); break;
      case 'seed':
        this.swimlane.observe(p.attrs ?? {}, p.step);
        this.syncSeeds();
        break;
      case 'event': this.onEvent(p, false); break;
      case 'state': this.onState(p.value, p.attrs); break;
      case 'command': this.ledger.upsert(commandFromPacket(p)); break;
      default: break;
    }
    this.header.update(this.run);
  }

  onMetric(p) {
    const target = METRICS[p.name];
    if (!target || !Number.isFinite(p.step)) return;
    // Without a resume cursor the socket replays the stream from its start:
    // skip what history already drew until the replay passes its end, so the
    // chart neither shrinks nor redraws. After that a step going back is a rollback.
    const end = this.historyEnd?.[p.name];
    if (end !== undefined && !this.caughtUp.has(p.name)) {
      if (p.step <= end) return;
      this.caughtUp.add(p.name);
    }
    const value = Number(p.value);
    this.charts[target[0]].append(target[1], p.step, value);
    if (p.name === PARAMS_METRIC) this.architecture.setParams(value);
    this.run.metrics = { ...this.run.metrics, [target[2]]: value };
  }

  onEvent(p, fromHistory) {
    this.feed.add(p);
    // A seed moved or failed a gate: its lineage row changes once persisted.
    if (!fromHistory && (p.name === STAGE_EVENT || p.name === 'kasmina.gate_failure')) this.lineage.refreshSoon();
    if (p.name === STAGE_EVENT) {
      this.swimlane.observe(stageFromEvent(p), p.step);
      this.syncSeeds();
    } else if (p.name === ARCHITECTURE_EVENT) {
      this.architecture.setHost(p.attrs);
    } else if (p.name === GAP_EVENT) {
      // The server says packets are gone: the charts show a gap up to the next point.
      if (!fromHistory) Object.values(this.charts).forEach((c) => c.markGap());
      showBanner(`gap-${p.cursor ?? p.ts}`, 'danger', h('b', {}, 'Telemetry gap. '), describe(p),
        '. The charts have no data for that stretch.');
    } else if (p.name === 'tolaria.rollback.restored' && !fromHistory) {
      const a = p.attrs ?? {};
      const to = a.restored_step ?? a.step ?? a.to_step;
      if (Number.isFinite(to)) this.swimlane.truncate(to);
      api.checkpoints(this.run.id).then((cps) => this.setCheckpoints(cps)).catch(() => {});
    } else if (p.name === 'artifacts.stored' && !fromHistory) {
      this.artifacts.load();
    } else if (p.level === 'critical' && !fromHistory && Date.now() - Date.parse(p.ts) < 60000) {
      // Only fresh ones: a replay of old criticals is in the feed, not a banner.
      showBanner('critical', 'danger', h('b', {}, `${p.name}: `), describe(p));
    }
  }

  onState(state, attrs) {
    if (!state || state === this.run.state) return;
    this.run.state = state;
    this.controls?.update(this.run);
    // Terminal, or requeued for a new attempt (its worker lost): read the row again.
    if (TERMINAL.has(state) || (state === 'queued' && attrs?.attempt)) this.refresh();
  }

  async refresh(attempt = 0) {
    try {
      const run = await api.run(this.run.id);
      // The stream reports a terminal state before the database row has it:
      // never step back from it, and read again for the halt reason or error.
      if (TERMINAL.has(this.run.state) && !TERMINAL.has(run.state)) {
        run.state = this.run.state;
        if (attempt < 10) setTimeout(() => this.refresh(attempt + 1), 1000);
      }
      // Keep the live figures if the row lags the stream.
      run.step = Math.max(run.step ?? 0, this.run.step ?? 0);
      if (this.swimlane.list().length) delete run.seeds;
      this.run = Object.assign(this.run, run);
      this.header.update(this.run);
      this.controls?.update(this.run);
      this.showRunNotes();
    } catch { /* the next poll retries */ }
    api.checkpoints(this.run.id).then((cps) => this.setCheckpoints(cps)).catch(() => {});
    this.artifacts.load();
    this.attempts.load(this.run);
    api.commands(this.run.id).then((cmds) => cmds.forEach((c) => this.ledger.upsert(c))).catch(() => {});
    this.lineage.refreshSoon();
  }

  poll() {
    if (document.hidden) return;
    if (!TERMINAL.has(this.run.state)) api.checkpoints(this.run.id).then((cps) => this.setCheckpoints(cps)).catch(() => {});
    // Outcomes the socket may have missed (e.g. a command acked while it was down).
    if (this.ledger.pending().length) this.refresh();
  }

  setCheckpoints(cps) {
    this.checkpoints = cps;
    this.cpTable.update(cps);
  }

  showRunNotes() {
    const r = this.run;
    if (r.halt_reason) showBanner('run-note', 'danger', h('b', {}, 'Halted: '), r.halt_reason);
    else if (r.error) showBanner('run-note', 'danger', h('b', {}, 'Failed: '), r.error);
    else dismissBanner('run-note');
  }

  socketRefused(code, reason) {
    if (code === 4401) return; // the login dialog is already up
    showBanner('run-ws', 'danger', `The live stream was refused (${code} ${reason}).`);
  }

  // Slots: the spec's list, else the task's default host (`block0..`), plus any
  // slot a seed already lives in.
  slots() {
    const spec = this.run.spec ?? {};
    const out = new Set(spec.morphogenesis?.slots ?? []);
    if (!out.size) {
      const task = this.tasks.find((t) => t.name === spec.task);
      const depth = spec.model?.depth;
      const defaults = task?.slots ?? [];
      if (depth && defaults.every((s) => /^block\d+$/.test(s))) {
        for (let i = 0; i < depth; i += 1) out.add(`block${i}`);
      } else defaults.forEach((s) => out.add(s));
    }
    for (const s of this.swimlane.list()) if (s.slot && s.slot !== '?') out.add(s.slot);
    return [...out];
  }

  dispose() {
    clearInterval(this.timer);
    this.socket?.close();
    Object.values(this.charts).forEach((c) => c.destroy());
    this.swimlane.destroy();
    this.lineage.dispose();
    this.controls?.destroy();
    clearConnection();
  }
}

export async function renderRun(root, runId, session) {
  let run;
  try {
    run = await api.run(runId);
  } catch (err) {
    replace(root, h('div', { class: 'panel pad' }, h('h1', {}, err.status === 404 ? 'No such run' : 'Could not load the run'),
      h('p', {}, err.message), h('p', {}, h('a', { href: '#/' }, '← Back to the fleet'))));
    return () => {};
  }
  const view = new RunView(root, run, session);
  view.showRunNotes();
  view.start();
  return () => view.dispose();
}
