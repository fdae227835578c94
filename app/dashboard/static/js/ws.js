// A WebSocket that survives gateway restarts: exponential backoff with jitter,
// and on every reconnect it asks for `?after=<last cursor>` so the server replays
// exactly what was missed (API.md, WebSocket). Packets at or before the last
// cursor seen are dropped, so an overlapping replay never double-counts.

import { wsUrl } from './api.js';

const FATAL = { 4401: 'unauthorised', 4403: 'forbidden', 4404: 'not found' };
const TOO_SLOW = 4408;

// Cursors are opaque but increasing; today they are Redis stream ids `ms-seq`,
// which must compare numerically ("9-0" < "10-0").
export function compareCursor(a, b) {
  const ma = /^(\d+)-(\d+)$/.exec(a);
  const mb = /^(\d+)-(\d+)$/.exec(b);
  if (ma && mb) {
    const [x1, y1, x2, y2] = [ma[1], ma[2], mb[1], mb[2]].map(BigInt);
    if (x1 !== x2) return x1 < x2 ? -1 : 1;
    return y1 === y2 ? 0 : (y1 < y2 ? -1 : 1);
  }
  if (a.length !== b.length) return a.length < b.length ? -1 : 1;
  return a < b ? -1 : (a > b ? 1 : 0);
}

export class LiveSocket {
  constructor({ path, params = {}, after = null, onPacket, onStatus = () => {},
    onFatal = () => {}, onReconnect = () => {}, onEnded = () => {}, endOnNormalClose = false, minDelayMs = 500, maxDelayMs = 15000 }) {
    Object.assign(this, { path, params, onPacket, onStatus, onFatal, onReconnect, onEnded, endOnNormalClose,
      minDelayMs, maxDelayMs });
    this.lastCursor = after;
    this.attempt = 0;
    this.ws = null;
    this.timer = null;
    this.stopped = false;
    this.everOpened = false;
    this.received = 0;
    this.onOnline = () => this.reconnectNow();
    window.addEventListener('online', this.onOnline);
  }

  start() {
    this.stopped = false;
    this.connect();
    return this;
  }

  close() {
    this.stopped = true;
    clearTimeout(this.timer);
    window.removeEventListener('online', this.onOnline);
    if (this.ws) {
      this.ws.onclose = null;
      this.ws.close(1000, 'client closing');
    }
  }

  reconnectNow() {
    if (this.stopped || this.fetching || this.ws?.readyState === WebSocket.OPEN) return;
    clearTimeout(this.timer);
    this.connect();
  }

  async connect() {
    const params = { ...this.params, after: this.lastCursor ?? undefined };
    this.onStatus(this.everOpened ? 'reconnecting' : 'connecting', { attempt: this.attempt });
    let url;
    // While the ticket is on its way, a reconnectNow() must not start a second one.
    this.fetching = true;
    try {
      url = await wsUrl(this.path, params);
    } catch (err) {
      this.fetching = false;
      // No ticket: a refused token ends like a 4401; an unreachable gateway
      // is retried like a dropped socket.
      this.closed({ code: err?.status === 401 ? 4401 : 1006, reason: '' });
      return;
    }
    this.fetching = false;
    if (this.stopped) return;
    const ws = new WebSocket(url);
    this.ws = ws;
    ws.onopen = () => {
      const resumed = this.everOpened;
      this.attempt = 0;
      this.everOpened = true;
      this.onStatus('live', {});
      if (resumed) this.onReconnect(this.lastCursor);
    };
    ws.onmessage = (msg) => this.handle(msg.data);
    ws.onclose = (ev) => this.closed(ev);
    // onerror is always followed by onclose, which decides what to do.
    ws.onerror = () => {};
  }

  handle(data) {
    let packet;
    try { packet = JSON.parse(data); } catch { return; }
    const cursor = packet?.cursor;
    if (cursor) {
      if (this.lastCursor && compareCursor(cursor, this.lastCursor) <= 0) return;
      this.lastCursor = cursor;
    }
    this.received += 1;
    this.onPacket(packet);
  }

  closed(ev) {
    this.ws = null;
    if (this.stopped) return;
    if (FATAL[ev.code]) {
      this.onStatus('closed', { code: ev.code, reason: FATAL[ev.code] });
      this.onFatal(ev.code, FATAL[ev.code]);
      return;
    }
    if (ev.code === 1000 && this.endOnNormalClose) {
      // The server ends a run's stream after its terminal state: nothing more will come.
      this.stopped = true;
      this.onStatus('ended', { reason: ev.reason || 'stream ended' });
      this.onEnded(ev.reason);
      return;
    }
    if (ev.code === TOO_SLOW) {
      // The reason is the last cursor the server delivered; every frame before the
      // close event has been handled, so ours is at least as far. Resume from it
      // at once: being slow is not a server failure, so no backoff.
      const reason = (ev.reason || '').trim();
      if (!this.lastCursor && reason) this.lastCursor = reason;
      this.onStatus('reconnecting', { attempt: 0, code: ev.code, inMs: 0 });
      this.timer = setTimeout(() => this.connect(), 50);
      return;
    }
    const base = Math.min(this.maxDelayMs, this.minDelayMs * 2 ** this.attempt);
    const inMs = Math.round(base * (0.5 + Math.random() / 2));
    this.attempt += 1;
    this.onStatus('reconnecting', { attempt: this.attempt, code: ev.code, inMs });
    this.timer = setTimeout(() => this.connect(), inMs);
  }
}
