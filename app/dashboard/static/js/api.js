// REST client for the gateway (API.md). Holds the API token for this tab only:
// sessionStorage survives reloads but not closing the tab, and is never sent to
// another origin.

const TOKEN_KEY = 'esper.token';
const V1 = '/api/v1';
// The run states the API calls terminal (api_schemas.enums.TERMINAL_RUN_STATES).
export const TERMINAL = new Set(['completed', 'failed', 'cancelled', 'halted']);

export function getToken() {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function setToken(token) {
  if (token) sessionStorage.setItem(TOKEN_KEY, token.trim());
  else sessionStorage.removeItem(TOKEN_KEY);
}

export class ApiError extends Error {
  constructor(status, code, message, details) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

let unauthorizedHandler = () => {};
export function onUnauthorized(fn) {
  unauthorizedHandler = fn;
}

function buildUrl(path, query) {
  const url = new URL(path, location.origin);
  for (const [key, value] of Object.entries(query ?? {})) {
    if (value === undefined || value === null || value === '') continue;
    url.searchParams.set(key, Array.isArray(value) ? value.join(',') : String(value));
  }
  return url;
}

export async function request(method, path, { body, query, signal, quiet401 } = {}) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const token = getToken();
  if (token) headers.Authorization = `Bearer ${token}`;
  let res;
  try {
    res = await fetch(buildUrl(path, query), {
      method, headers, signal, body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (err) {
    if (err.name === 'AbortError') throw err;
    throw new ApiError(0, 'network_error', 'The gateway did not answer.');
  }
  const text = res.status === 204 ? '' : await res.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = null; }
  if (!res.ok) {
    const e = data?.error ?? {};
    const detail = typeof data?.detail === 'string' ? data.detail : null;
    const err = new ApiError(res.status, e.code ?? `http_${res.status}`,
      e.message ?? detail ?? (res.statusText || `HTTP ${res.status}`), e.details);
    if (res.status === 401 && !quiet401) unauthorizedHandler(err);
    throw err;
  }
  return data;
}

// Lists are either a bare array or a page {items, next_cursor} (API.md, Lists).
export function items(data) {
  return Array.isArray(data) ? data : (data?.items ?? []);
}

async function allPages(path, query, maxPages) {
  const out = [];
  let cursor = null;
  for (let i = 0; i < maxPages; i += 1) {
    const data = await request('GET', path, { query: { ...query, cursor } });
    out.push(...items(data));
    cursor = Array.isArray(data) ? null : data?.next_cursor;
    if (!cursor) break;
  }
  return out;
}

const enc = encodeURIComponent;
const runPath = (id) => `${V1}/runs/${enc(id)}`;

export const api = {
  whoami: () => request('GET', `${V1}/whoami`, { quiet401: true }),
  runs: (maxPages = 2) => allPages(`${V1}/runs`, { limit: 100 }, maxPages),
  // One page of the runs list: q, state, task, label, sort, limit, cursor (docs/dashboard.md).
  runsPage: (query) => request('GET', `${V1}/runs`, { query }),
  run: (id) => request('GET', runPath(id)),
  workers: async () => items(await request('GET', `${V1}/workers`)),
  seeds: async (id) => items(await request('GET', `${runPath(id)}/seeds`)),
  checkpoints: async (id) => items(await request('GET', `${runPath(id)}/checkpoints`)),
  artifacts: async (id) => items(await request('GET', `${runPath(id)}/artifacts`)),
  commands: (id, maxPages = 2) => allPages(`${runPath(id)}/commands`, { limit: 200 }, maxPages),
  command: (commandId) => request('GET', `${V1}/commands/${enc(commandId)}`),
  blueprints: async () => items(await request('GET', `${V1}/blueprints`)),
  tasks: async () => items(await request('GET', `${V1}/tasks`)),
  // History reduced to `resolution` buckets per metric: bounded whatever the run's length.
  // `stepFrom`/`stepTo` narrow it to a zoomed range (docs/dashboard.md).
  series: (id, names, resolution, { stepFrom, stepTo } = {}) =>
    request('GET', `${runPath(id)}/telemetry`,
      { query: { names, resolution, step_from: stepFrom, step_to: stepTo } }),
  // Plain packets in cursor order, for sparse names (events, stage changes) and exports.
  packets: (id, { names, after, kind, limit = 500 }) =>
    request('GET', `${runPath(id)}/telemetry`, { query: { names, after, kind, limit } }),
  // `wait` makes the gateway answer once the worker has acked (or after wait s).
  sendCommand: (id, body, wait = 5) =>
    request('POST', `${runPath(id)}/commands`, { body, query: { wait } }),
};

// Where an artifact's bytes are (a link: no token in it).
export function artifactUrl(runId, name) {
  return `${runPath(runId)}/artifacts/${enc(name)}`;
}

// WebSockets cannot carry an Authorization header from a browser, and a token
// in a URL ends up in access logs: with a token, each connection trades it for
// a single-use ticket (POST /api/v1/ws-tickets, valid 30 s) that goes in the
// query string instead (API.md, WebSocket). Without one, auth is off.
export async function wsUrl(path, params = {}) {
  const url = buildUrl(path, params);
  url.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
  if (getToken()) {
    const { ticket } = await request('POST', `${V1}/ws-tickets`, { quiet401: true });
    url.searchParams.set('ticket', ticket);
  }
  return url.toString();
}
