// Entry point: who am I (role), then hash routing between the fleet view (#/)
// and a run view (#/runs/<id>). Each view returns a dispose function that closes
// its sockets and timers, so switching views leaves nothing running behind.

import { ApiError, api, getToken, onUnauthorized, setToken } from './api.js';
import { h, replace } from './dom.js';
import { renderCompare } from './compare.js';
import { renderFleet } from './fleet.js';
import { renderRun } from './run.js';
import { clearBanners, showBanner } from './status.js';

const session = { role: null, auth: true, keyId: null };
let dispose = () => {};
let navigation = 0;
let shownRun = null; // the run whose page is up: its /architecture link only scrolls

// GET /api/v1/whoami; a gateway without it is the local all-in-one mode.
async function whoami() {
  try {
    const me = await api.whoami();
    Object.assign(session, { role: me.role, auth: me.auth !== false, keyId: me.key_id ?? null });
    return true;
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) {
      Object.assign(session, { role: 'operator', auth: false, keyId: null });
      return true;
    }
    if (err instanceof ApiError && (err.status === 401 || err.status === 403)) return false;
    throw err;
  }
}

function renderWho() {
  const who = document.getElementById('who');
  const signout = document.getElementById('signout');
  replace(who, session.auth
    ? ['signed in as ', h('b', {}, session.role ?? '?'), session.keyId ? ` (key ${session.keyId})` : '']
    : ['local mode · ', h('b', {}, session.role)]);
  who.dataset.role = session.role ?? '';
  signout.hidden = !session.auth || !getToken();
}

function askForToken(message) {
  const dialog = document.getElementById('login-dialog');
  const error = document.getElementById('login-error');
  error.hidden = !message;
  error.textContent = message ?? '';
  if (!dialog.open) dialog.showModal();
  document.getElementById('login-token').focus();
}

async function signIn(event) {
  event.preventDefault();
  const input = document.getElementById('login-token');
  setToken(input.value);
  input.value = '';
  if (await whoami()) {
    document.getElementById('login-dialog').close();
    renderWho();
    shownRun = null; // signed in again: render the page afresh
    route();
  } else {
    setToken(null);
    askForToken('That token was not accepted.');
  }
}

function runCrumbs(crumbs, id, architecture) {
  replace(crumbs, h('a', { href: '#/' }, 'Fleet'), h('span', { class: 'sep' }, '/'),
    architecture ? h('a', { href: `#/runs/${encodeURIComponent(id)}` }, `run ${id.slice(0, 8)}`) : h('span', {}, `run ${id.slice(0, 8)}`),
    architecture ? [h('span', { class: 'sep' }, '/'), h('span', {}, 'architecture')] : '');
}

// #/runs/<id>/architecture: the run page, at its architecture view.
function showPart(architecture) {
  if (architecture) document.getElementById('architecture')?.scrollIntoView();
  else window.scrollTo(0, 0);
}

async function route() {
  const view = document.getElementById('view');
  const crumbs = document.getElementById('crumbs');
  const match = /^#\/runs\/([^/?#]+)(\/architecture)?/.exec(location.hash);
  if (match && shownRun === decodeURIComponent(match[1])) {
    // The same run, another part of its page: no reload, no new socket.
    runCrumbs(crumbs, shownRun, Boolean(match[2]));
    showPart(Boolean(match[2]));
    return;
  }
  const mine = ++navigation;
  shownRun = null;
  dispose();
  dispose = () => {};
  clearBanners();
  if (location.hash.startsWith('#/compare')) {
    replace(crumbs, h('a', { href: '#/' }, 'Fleet'), h('span', { class: 'sep' }, '/'), h('span', {}, 'compare'));
    replace(view, h('p', { class: 'muted pad' }, 'Loading runs…'));
    const d = await renderCompare(view, location.hash);
    if (mine === navigation) dispose = d; else d();
  } else if (match) {
    const id = decodeURIComponent(match[1]);
    runCrumbs(crumbs, id, Boolean(match[2]));
    replace(view, h('p', { class: 'muted pad' }, 'Loading run…'));
    const d = await renderRun(view, id, session);
    // The operator may have navigated again while the run was loading.
    if (mine !== navigation) { d(); return; }
    dispose = d;
    shownRun = id;
    if (match[2]) showPart(true);
  } else {
    replace(crumbs, h('a', { href: '#/' }, 'Fleet'));
    dispose = renderFleet(view, session);
  }
}

async function boot() {
  onUnauthorized(() => askForToken(getToken() ? 'Your token was refused or has been revoked.' : null));
  document.getElementById('login-form').addEventListener('submit', signIn);
  document.getElementById('login-dialog').addEventListener('cancel', (e) => e.preventDefault());
  document.getElementById('signout').addEventListener('click', () => {
    setToken(null);
    dispose();
    shownRun = null;
    replace(document.getElementById('view'));
    askForToken(null);
  });
  window.addEventListener('hashchange', route);
  let known;
  try {
    known = await whoami();
  } catch (err) {
    showBanner('boot', 'danger', `The gateway did not answer (${err.message}). Reload to retry.`);
    return;
  }
  if (!known) {
    askForToken(getToken() ? 'Your token was refused or has been revoked.' : null);
    return;
  }
  renderWho();
  route();
}

boot();
