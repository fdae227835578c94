// Profiling a run from its page (the `profile` command, docs/RUNBOOK.md). The
// Profile… button asks for the steps and sends the command through the
// controls bar, which shows the ack. The newest applied `profile` in the
// ledger names its trace: the run's artifacts are polled until the worker has
// stored it, then it is linked here (a finished run's page shows its last one).

import { TERMINAL, api } from './api.js';
import { artifactLink } from './artifacts.js';
import { fmtBytes, h, replace, runLabel } from './dom.js';

const MAX_STEPS = 500;
const POLL_MS = 1000;
const POLL_FOR_MS = 10 * 60 * 1000;
// A run reports its end only after its uploads (ESPER_UPLOAD_DRAIN_S): a trace
// still missing a few seconds after the end will not come.
const AFTER_END_MS = 5000;

export class ProfileAction {
  // `controls`: the run's Controls (run, ledger, send, setOutcome, runTarget).
  constructor(controls, openDialog) {
    Object.assign(this, { controls, openDialog });
    this.latest = null; // the newest applied profile command seen
    this.timer = null;
    this.el = h('div', { class: 'outcome', hidden: true, dataset: { testid: 'profile-trace' } });
    this.unsubscribe = controls.ledger.subscribe((cmd) => this.onCommand(cmd));
  }

  async choose() {
    const c = this.controls;
    const values = await this.openDialog({
      title: `Profile ${runLabel(c.run)}`, testid: 'profile-dialog',
      body: [h('p', {}, 'Record torch.profiler over the next training steps of ', c.runTarget(),
        '. The Chrome trace becomes one of the run\'s artifacts, linked here once stored.')],
      fields: [{ name: 'steps', label: `Steps (1–${MAX_STEPS})`, value: '20' }],
      confirmLabel: 'Profile',
    });
    if (!values) return;
    const steps = Number(values.steps);
    if (!Number.isInteger(steps) || steps < 1 || steps > MAX_STEPS) {
      c.setOutcome('failed', `profile: steps must be a whole number from 1 to ${MAX_STEPS}`);
      return;
    }
    c.send({ type: 'profile', steps });
  }

  onCommand(cmd) {
    const trace = cmd.type === 'profile' && cmd.state === 'applied' ? cmd.result?.artifact : null;
    if (!trace || trace === this.latest?.result?.artifact) return;
    if (this.latest && (this.latest.issued_at ?? '') > (cmd.issued_at ?? '')) return;
    this.latest = cmd;
    const { from_step: from, to_step: to } = cmd.result;
    this.show(`Profiling steps ${from}–${to}: trace ${trace} is linked here once stored…`);
    this.watch(trace);
  }

  watch(name) {
    clearInterval(this.timer);
    const started = Date.now();
    let endedAt = null;
    const check = async () => {
      if (endedAt === null && TERMINAL.has(this.controls.run.state)) endedAt = Date.now();
      if (Date.now() - started > POLL_FOR_MS || Date.now() - (endedAt ?? Infinity) > AFTER_END_MS) {
        clearInterval(this.timer);
        this.show(`Trace ${name} was not stored; the run's events say why (tolaria.profiler.export_failed).`);
        return;
      }
      try {
        const found = (await api.artifacts(this.controls.run.id)).find((a) => a.name === name);
        if (found && this.latest?.result?.artifact === name) {
          clearInterval(this.timer);
          this.showTrace(found);
        }
      } catch { /* the next tick retries */ }
    };
    this.timer = setInterval(check, POLL_MS);
    check();
  }

  show(...children) {
    this.el.hidden = false;
    replace(this.el, ...children);
  }

  showTrace(artifact) {
    this.show('Trace ', artifactLink(this.controls.run.id, artifact), ` (${fmtBytes(artifact.bytes)}): open it in `,
      h('a', { href: 'https://ui.perfetto.dev', target: '_blank', rel: 'noopener noreferrer' }, 'ui.perfetto.dev'),
      ' or chrome://tracing.');
    this.el.dataset.state = 'stored';
  }

  destroy() {
    this.unsubscribe();
    clearInterval(this.timer);
  }
}
