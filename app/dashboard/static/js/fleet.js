// Fleet view: workers and runs at a glance. `/ws/fleet` pushes run state changes,
// command outcomes, worker changes and critical events the moment they happen;
// a slow REST refresh fills in progress figures (epoch, step, latest loss), which
// the fleet socket does not carry for every step.

import { api } from './api.js';
import { ago, fmtNum, fmtPct, fmtTime, frameScheduler, h, pill, replace, runLabel, shortId } from './dom.js';
import { clearConnection, showBanner, showConnection } from './status.js';
import { STAGES } from './swimlane.js';
import { LiveSocket } from './ws.js';
import { RunsList } from './runslist.js';

const RUNS_EVERY_MS = 3000;
const WORKERS_EVERY_MS = 5000;
const HEARTBEAT_STALE_S = 15;
const METRIC_KEYS = {
  'tolaria.training.loss': 'loss', 'tolaria.step.loss': 'loss',
  'tolaria.training.accuracy': 'accuracy', 'tolaria.validation.loss': 'val_loss',
  'tolaria.validation.accuracy': 'val_accuracy', 'tolaria.step.latency_ms': 'step_time_ms',
};

export function seedChips(seeds) {
  const entries = STAGES.concat(['UNKNOWN', 'TERMINATED'])
    .map((s) => [s, seeds?.[s] ?? seeds?.[s.toLowerCase()] ?? 0]).filter(([, n]) => n > 0);
  if (!entries.length) return h('span', { class: 'muted' }, '–');
  return h('span', {}, entries.map(([s, n]) => h('span', {
    class: `chip ${['DORMANT', 'GERMINATED', 'UNKNOWN'].includes(s) ? 'light' : ''}`,
    title: `${n} ${s}`, style: { '--dot': `var(--stage-${s})` } }, `${s.toLowerCase()} ${n}`)));
}

export function progress(run) {
  const epochs = run.spec?.epochs ?? 0;
  const maxSteps = run.spec?.max_steps;
  const frac = maxSteps ? run.step / maxSteps : (epochs ? run.epoch / epochs : 0);
  const done = ['completed'].includes(run.state) ? 1 : Math.min(1, Math.max(0, frac));
  return h('span', { title: `${Math.round(done * 100)}%` },
    h('span', { class: 'progress' }, h('i', { style: { width: `${done * 100}%` } })),
    `epoch ${run.epoch ?? 0}/${epochs || '?'} · step ${run.step ?? 0}`);
}

class FleetView {
  constructor(root) {
    this.root = root;
    this.runs = new Map();
    this.workers = [];
    this.critical = [];
    this.loaded = false;
    this.stats = h('div', { class: 'summary', dataset: { testid: 'fleet-summary' } });
    this.workersBody = h('tbody');
    this.list = new RunsList({ progress, seedChips, onChange: (err) => this.listed(err) });
    this.criticalList = h('div', { class: 'feed' });
    this.schedule = frameScheduler(() => this.render());
    replace(root, this.stats, h('div', { class: 'fleet-grid' },
      this.list.el,
      this.panel('Workers', 'workers', ['worker', 'device', 'state', 'run', 'last heartbeat',
        'torch'], this.workersBody),
      h('section', { class: 'panel', dataset: { testid: 'critical-events' } },
        h('div', { class: 'panel-head' }, h('h3', {}, 'Critical events (all runs, this session)')),
        this.criticalList)));
  }

  panel(title, testid, headers, body) {
    return h('section', { class: 'panel' },
      h('div', { class: 'panel-head' }, h('h3', {}, title)),
      h('div', { class: 'panel-body flush scroll' }, h('table', { dataset: { testid } },
        h('thead', {}, h('tr', {}, headers.map((t) => h('th', {}, t)))), body)));
  }

  start() {
    this.refreshRuns();
    this.refreshWorkers();
    this.timers = [
      setInterval(() => !document.hidden && this.refreshRuns(), RUNS_EVERY_MS),
      setInterval(() => !document.hidden && this.refreshWorkers(), WORKERS_EVERY_MS),
      setInterval(() => this.renderWorkers(), 1000), // keeps "last heartbeat" honest
    ];
    this.socket = new LiveSocket({
      path: '/ws/fleet',
      onPacket: (p) => this.onPacket(p),
      onStatus: (state, info) => showConnection('fleet', state, info),
      onReconnect: () => { this.refreshRuns(); this.refreshWorkers(); },
      onFatal: (code, reason) => showBanner('fleet-ws', 'danger',
        `The fleet stream was refused (${code} ${reason}). Figures below refresh every few seconds.`),
    }).start();
  }

  // The list is filtered; the summary counts every run (up to 200, newest first).
  refreshRuns() {
    this.list.refresh();
    api.runs().then((runs) => { this.everyRun = runs; this.schedule(); }).catch(() => {});
  }

  listed(err) {
    if (err) {
      if (err.status !== 401) showBanner('fleet-rest', 'warn', `Could not list runs: ${err.message}`);
      return;
    }
    this.runs = new Map(this.list.runs.map((r) => [r.id, r]));
    this.loaded = true;
    this.schedule();
  }

  async refreshWorkers() {
    try {
      this.workers = await api.workers();
      this.schedule();
    } catch (err) {
      if (err.status !== 401) showBanner('fleet-rest', 'warn', `Could not list workers: ${err.message}`);
    }
  }

  onPacket(p) {
    const run = p.run_id ? this.runs.get(p.run_id) : null;
    if (p.kind === 'state' && p.run_id) {
      if (run) run.state = p.value;
      // The packet names only the state; the row has the worker, progress, figures.
      api.run(p.run_id).then((r) => {
        this.runs.set(r.id, r);
        const i = this.list.runs.findIndex((x) => x.id === r.id);
        if (i >= 0) this.list.runs[i] = r; else this.list.refresh(); // a new run: list it
        this.schedule();
      }).catch(() => {});
    }
    if (run && Number.isFinite(p.step)) run.step = Math.max(run.step ?? 0, p.step);
    if (run && Number.isFinite(p.epoch)) run.epoch = Math.max(run.epoch ?? 0, p.epoch);
    if (run && p.kind === 'metric' && p.attrs?.progress) {
      // The gateway's throttled progress packet carries every latest figure.
      const figures = Object.entries(p.attrs.metrics ?? {}).filter(([, v]) => v !== null);
      run.metrics = { ...run.metrics, ...Object.fromEntries(figures) };
      if (p.attrs.seeds && Object.keys(p.attrs.seeds).length) run.seeds = p.attrs.seeds;
    } else if (run && p.kind === 'metric' && METRIC_KEYS[p.name]) {
      run.metrics = { ...run.metrics, [METRIC_KEYS[p.name]]: p.value };
    }
    if (p.kind === 'event' && (p.name.startsWith('worker') || p.attrs?.worker_id)) this.refreshWorkers();
    if (p.level === 'critical' || p.name === 'telemetry.gap') {
      this.critical.unshift(p);
      this.critical.length = Math.min(this.critical.length, 30);
    }
    this.schedule();
  }

  render() {
    const runs = this.everyRun ?? [...this.runs.values()];
    const count = (state) => runs.filter((r) => (this.runs.get(r.id) ?? r).state === state).length;
    const lost = this.workers.filter((w) => w.state === 'lost').length;
    replace(this.stats, [
      ['running', count('running')], ['paused', count('paused')], ['queued', count('queued') + count('assigned')],
      ['halted', count('halted')], ['failed', count('failed')],
      ['workers', this.workers.length], ['lost workers', lost],
    ].map(([l, n]) => h('div', { class: `stat ${(l === 'lost workers' || l === 'failed') && n ? 'alert' : ''}` },
      h('div', { class: 'n' }, n), h('div', { class: 'l' }, l))));
    this.list.render();
    this.renderWorkers();
    this.renderCritical();
  }

  renderWorkers() {
    if (!this.workers.length) {
      replace(this.workersBody, h('tr', {}, h('td', { colspan: 6, class: 'empty' },
        'No workers registered. Start one with `esper worker`.')));
      return;
    }
    const now = Date.now();
    replace(this.workersBody, this.workers.map((w) => {
      const age = w.last_heartbeat ? (now - new Date(w.last_heartbeat).getTime()) / 1000 : Infinity;
      const run = w.run_id ? this.runs.get(w.run_id) : null;
      return h('tr', { dataset: { workerId: w.id, state: w.state } },
        h('td', {}, w.hostname ?? '–', ' ', h('span', { class: 'muted mono' }, w.id)),
        h('td', {}, h('span', { class: 'mono' }, w.device ?? '–'), w.device_name ? ` · ${w.device_name}` : ''),
        h('td', {}, pill('worker', w.state)),
        h('td', {}, w.run_id ? h('a', { href: `#/runs/${w.run_id}` }, run ? runLabel(run) : shortId(w.run_id)) : '–'),
        h('td', { class: age > HEARTBEAT_STALE_S && w.state !== 'lost' ? 'stale' : '', title: w.last_heartbeat ?? '' },
          ago(w.last_heartbeat, now)),
        h('td', { class: 'muted' }, w.torch_version ?? '–'));
    }));
  }

  renderCritical() {
    if (!this.critical.length) {
      replace(this.criticalList, h('p', { class: 'empty' }, 'None since this page opened.'));
      return;
    }
    replace(this.criticalList, this.critical.map((p) => h('div', { class: `ev ${p.level}` },
      h('span', { class: 'step' }, fmtTime(p.ts)),
      h('span', { class: 'name' }, p.name, ' ', p.run_id
        ? h('a', { href: `#/runs/${p.run_id}` }, this.runs.has(p.run_id) ? runLabel(this.runs.get(p.run_id)) : shortId(p.run_id)) : ''),
      h('span', { class: 'text' }, p.value ?? ''))));
  }

  dispose() {
    this.timers?.forEach(clearInterval);
    this.socket?.close();
    clearConnection();
  }
}

export function renderFleet(root) {
  const view = new FleetView(root);
  view.start();
  return () => view.dispose();
}
