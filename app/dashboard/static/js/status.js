// The connection pill in the top bar and the banners under it: the two places
// where the page says plainly that it is not live, or that data is missing.

import { h } from './dom.js';

const conn = () => document.getElementById('conn');
const banners = () => document.getElementById('banners');

let countdown = null;

export function showConnection(label, state, info = {}) {
  const node = conn();
  clearInterval(countdown);
  node.dataset.state = state;
  if (state === 'live') node.textContent = `Live · ${label}`;
  else if (state === 'connecting') node.textContent = `Connecting to ${label}…`;
  else if (state === 'ended') node.textContent = `${label}: ${info.reason ?? 'stream ended'}`;
  else if (state === 'closed') node.textContent = `Disconnected: ${info.reason ?? 'closed'}`;
  else if (state === 'reconnecting') {
    // Count down so the operator can see it is trying, not stuck.
    const until = Date.now() + (info.inMs ?? 0);
    const render = () => {
      const s = Math.max(0, Math.ceil((until - Date.now()) / 1000));
      node.textContent = s > 0
        ? `Reconnecting in ${s}s (attempt ${info.attempt})…` : 'Reconnecting…';
    };
    render();
    countdown = setInterval(render, 500);
  } else node.textContent = '';
}

export function clearConnection() {
  clearInterval(countdown);
  conn().dataset.state = 'idle';
  conn().textContent = '';
}

// A banner with a key replaces any earlier one with the same key.
export function showBanner(key, level, ...content) {
  dismissBanner(key);
  const node = h('div', { class: `banner ${level}`, dataset: { key }, role: 'alert' },
    ...content,
    h('button', { class: 'btn btn-small', type: 'button', onclick: () => node.remove() },
      'Dismiss'));
  banners().append(node);
  return node;
}

export function dismissBanner(key) {
  banners().querySelector(`[data-key="${CSS.escape(key)}"]`)?.remove();
}

export function clearBanners() {
  banners().replaceChildren();
}
