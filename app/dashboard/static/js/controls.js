// Operator controls for one run. Every action is a POST to the run's commands
// with ?wait=5, so the answer usually already carries the worker's outcome; when
// it does not, the ledger (fed by `command` packets, with a slow poll as a
// fallback) reports it. The bar is not built at all for roles that cannot act.

import { TERMINAL, api } from './api.js';
import { fmtTime, h, replace, runLabel, shortId } from './dom.js';
import { FINAL } from './ledger.js';
import { ProfileAction } from './profile.js';

const ENABLED = {
  pause: ['running'],
  resume: ['paused'],
  stop: ['queued', 'assigned', 'running', 'paused'],
  emergency_halt: ['queued', 'assigned', 'running', 'paused'],
  rollback: ['running', 'paused'],
  seed_enable: ['running', 'paused'],
  profile: ['running', 'paused'],
};
const POLL_MS = 2000;
const POLL_FOR_MS = 120000;

export function canCommand(role) {
  return role === 'operator' || role === 'admin';
}

// A modal form; resolves to the field values, or null when cancelled.
export function openDialog({ title, body = [], fields = [], confirmLabel, danger, testid }) {
  return new Promise((resolve) => {
    const inputs = fields.map((f) => {
      const input = f.options
        ? h('select', { name: f.name, dataset: { testid: `field-${f.name}` } },
          f.options.map((o) => h('option', { value: o.value, selected: o.value === f.value,
            disabled: o.disabled }, o.label)))
        : h('input', { name: f.name, value: f.value ?? '', type: 'text', maxlength: 500,
          dataset: { testid: `field-${f.name}` } });
      return [f.name, input, h('label', {}, f.label, input)];
    });
    const cancel = h('button', { class: 'btn', type: 'button' }, 'Cancel');
    const ok = h('button', { class: `btn ${danger ? 'btn-danger' : 'btn-primary'}`,
      type: 'submit', dataset: { testid: 'dialog-confirm' } }, confirmLabel);
    const form = h('form', {}, h('h2', {}, title), ...body, ...inputs.map((i) => i[2]),
      h('div', { class: 'dialog-actions' }, cancel, ok));
    const dialog = h('dialog', { class: `dialog ${danger ? 'danger' : ''}`,
      dataset: { testid: testid ?? 'dialog' } }, form);
    let result = null;
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      result = Object.fromEntries(inputs.map(([name, input]) => [name, input.value]));
      dialog.close();
    });
    cancel.addEventListener('click', () => dialog.close());
    dialog.addEventListener('close', () => { dialog.remove(); resolve(result); });
    document.body.append(dialog);
    dialog.showModal();
    // Focus Cancel on dangerous dialogs, so a stray Enter does not confirm.
    (danger ? cancel : (inputs[0]?.[1] ?? ok)).focus();
  });
}

export class Controls {
  constructor({ run, ledger, getCheckpoints, getSlots, getBlueprints }) {
    Object.assign(this, { run, ledger, getCheckpoints, getSlots, getBlueprints });
    this.watching = null;
    this.polls = new Map();
    this.profile = new ProfileAction(this, openDialog); // its trace, linked below
    this.buttons = {
      pause: this.button('Pause', 'pause', () => this.send({ type: 'pause' })),
      resume: this.button('Resume', 'resume', () => this.send({ type: 'resume' })),
      stop: this.button('Stop…', 'stop', () => this.confirmStop()),
      rollback: this.button('Roll back…', 'rollback', () => this.chooseRollback()),
      seed_enable: this.button('Add seed…', 'seed-enable', () => this.chooseSeed()),
      profile: this.button('Profile…', 'profile', () => this.profile.choose()),
      emergency_halt: this.button('Emergency halt', 'halt', () => this.confirmHalt(), 'btn-danger'),
    };
    this.note = h('span', { class: 'muted' });
    this.outcome = h('div', { class: 'outcome', role: 'status', dataset: { testid: 'outcome' } });
    const b = this.buttons;
    this.el = h('section', { class: 'panel', dataset: { testid: 'controls' } },
      h('div', { class: 'controls' }, b.pause, b.resume, b.stop, b.rollback, b.seed_enable,
        b.profile, this.note, h('span', { class: 'spacer' }), b.emergency_halt),
      this.outcome, this.profile.el);
    this.unsubscribe = ledger.subscribe((cmd) => {
      if (cmd.id === this.watching) this.showCommand(cmd);
    });
    this.update(run);
  }

  button(label, testid, onclick, cls = '') {
    return h('button', { class: `btn ${cls}`, type: 'button', dataset: { testid: `cmd-${testid}` },
      onclick }, label);
  }

  update(run) {
    this.run = run;
    for (const [type, btn] of Object.entries(this.buttons)) {
      btn.disabled = !ENABLED[type].includes(run.state);
    }
    const terminal = TERMINAL.has(run.state);
    this.note.textContent = terminal ? `Run is ${run.state}: it takes no more commands.` : '';
  }

  async send(body) {
    this.watching = null;
    this.setOutcome('pending', `${body.type}: sending…`);
    try {
      const cmd = await api.sendCommand(this.run.id, body, 5);
      this.watching = cmd.id;
      this.ledger.upsert(cmd);
      this.showCommand(this.ledger.get(cmd.id) ?? cmd);
      if (!FINAL.has(cmd.state)) this.poll(cmd.id);
    } catch (err) {
      const why = err.status === 409 ? `${err.message} (the run no longer takes commands)` : err.message;
      this.setOutcome('failed', `${body.type} not accepted: ${why}`);
    }
  }

  // Packets normally report the outcome first; the poll covers a missed one.
  poll(id) {
    if (this.polls.has(id)) return;
    const started = Date.now();
    const timer = setInterval(async () => {
      const row = this.ledger.get(id);
      if (FINAL.has(row?.state) || Date.now() - started > POLL_FOR_MS) {
        clearInterval(timer);
        this.polls.delete(id);
        return;
      }
      try { this.ledger.upsert(await api.command(id)); } catch { /* next tick */ }
    }, POLL_MS);
    this.polls.set(id, timer);
  }

  showCommand(cmd) {
    const what = `${cmd.type}`;
    if (cmd.state === 'applied') this.setOutcome('applied', `✓ ${what} applied${cmd.acked_at ? ` at ${fmtTime(cmd.acked_at)}` : ''}`);
    else if (cmd.state === 'rejected') this.setOutcome('rejected', `✗ ${what} rejected: ${cmd.reason ?? 'no reason given'}`);
    else if (cmd.state === 'expired') this.setOutcome('expired', `✗ ${what} expired: ${cmd.reason ?? 'the worker never acked it'}`);
    else this.setOutcome('pending', `${what} ${cmd.state ?? 'pending'}; waiting for the worker's ack…`);
  }

  setOutcome(state, text) {
    this.outcome.className = `outcome ${state}`;
    this.outcome.dataset.state = state;
    this.outcome.textContent = text;
  }

  runTarget() {
    return h('span', { class: 'target' }, `${runLabel(this.run)} (${shortId(this.run.id)})`);
  }

  async confirmHalt() {
    const values = await openDialog({
      title: `Emergency halt: ${runLabel(this.run)}`, danger: true, testid: 'halt-dialog',
      body: [h('p', {}, 'Halt run ', this.runTarget(), '? Optimizer updates stop within one step, '
        + 'a checkpoint is written, and the run ends ', h('b', {}, 'halted'), '. It cannot be resumed.')],
      fields: [{ name: 'reason', label: 'Reason (recorded as the halt reason)', value: 'operator halt from dashboard' }],
      confirmLabel: `Halt ${runLabel(this.run)}`,
    });
    if (values) this.send({ type: 'emergency_halt', reason: values.reason || 'operator' });
  }

  async confirmStop() {
    const values = await openDialog({
      title: `Stop ${runLabel(this.run)}`, danger: true, testid: 'stop-dialog',
      body: [h('p', {}, 'Stop run ', this.runTarget(), '? It finishes cleanly at the next step '
        + 'boundary and ends cancelled.')],
      confirmLabel: `Stop ${runLabel(this.run)}`,
    });
    if (values) this.send({ type: 'stop' });
  }

  async chooseRollback(checkpointId = '') {
    const cps = [...this.getCheckpoints()].sort((a, b) => b.step - a.step).slice(0, 200);
    const options = [{ value: '', label: 'Last good checkpoint (default)' },
      ...cps.map((c) => ({ value: c.id, label: `step ${c.step} · epoch ${c.epoch} · ${fmtTime(c.created_at)}${c.good === false ? ' · NOT GOOD' : ''}` }))];
    const values = await openDialog({
      title: `Roll back ${runLabel(this.run)}`, testid: 'rollback-dialog',
      body: [h('p', {}, 'Restore model, optimizer and seed state of ', this.runTarget(),
        ' from a checkpoint. Training continues from that step.')],
      fields: [{ name: 'checkpoint_id', label: 'Checkpoint', options, value: checkpointId }],
      confirmLabel: 'Roll back',
    });
    if (values) this.send({ type: 'rollback', ...(values.checkpoint_id ? { checkpoint_id: values.checkpoint_id } : {}) });
  }

  async chooseSeed() {
    const slots = this.getSlots();
    const bps = this.getBlueprints();
    if (!slots.length || !bps.length) {
      this.setOutcome('failed', 'seed_enable: no slots or blueprints known for this run');
      return;
    }
    const values = await openDialog({
      title: `Add a seed to ${runLabel(this.run)}`, testid: 'seed-dialog',
      body: [h('p', {}, 'Germinate a seed now, overriding Tamiyo. Gate G0 still checks it.')],
      fields: [
        { name: 'slot', label: 'Slot', options: slots.map((s) => ({ value: s, label: s })) },
        { name: 'blueprint', label: 'Blueprint (Karn catalogue)', options: bps.map((b) => ({
          value: b.name, label: `${b.name} · ${b.tier ?? ''} · risk ${b.risk ?? '?'}${b.risk >= 0.8 ? ' (quarantined)' : ''}` })) },
      ],
      confirmLabel: 'Germinate',
    });
    if (values) this.send({ type: 'seed_enable', slot: values.slot, blueprint: values.blueprint });
  }

  async cullSeed(seed) {
    const values = await openDialog({
      title: `Cull seed ${shortId(seed.id)}`, danger: true, testid: 'cull-dialog',
      body: [h('p', {}, `Cull seed ${shortId(seed.id)} (${seed.blueprint} in ${seed.slot}) of `,
        this.runTarget(), '? Its slot is embargoed for a while afterwards.')],
      confirmLabel: 'Cull seed',
    });
    if (values) this.send({ type: 'seed_disable', seed_id: seed.id });
  }

  destroy() {
    this.unsubscribe();
    this.profile.destroy();
    this.polls.forEach((t) => clearInterval(t));
    replace(this.el);
  }
}
