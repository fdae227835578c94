// DOM and formatting helpers. Everything is built with createElement and
// textContent (never innerHTML with data), so run names, reasons and attrs coming
// from the API cannot inject markup into a page that holds an API token.

export function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') node.className = value;
    else if (key === 'dataset') Object.assign(node.dataset, value);
    else if (key === 'style') {
      for (const [prop, v] of Object.entries(value)) node.style.setProperty(prop, v);
    }
    else if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
    else if (value === true) node.setAttribute(key, '');
    else node.setAttribute(key, String(value));
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
}

export function replace(node, ...children) {
  node.replaceChildren();
  append(node, children);
  return node;
}

// Reads a colour defined in dashboard.css, so canvas drawing and HTML agree.
const cssCache = new Map();
export function cssVar(name, fallback = '#999') {
  if (!cssCache.has(name)) {
    const value = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
    cssCache.set(name, value || fallback);
  }
  return cssCache.get(name);
}

export function pill(family, state, extra = {}) {
  const label = state ?? 'unknown';
  return h('span', { class: `pill ${extra.big ? 'big' : ''}`, dataset: { state: label },
    style: { '--dot': `var(--${family}-${label}, #999)` } }, label.toLowerCase());
}

export function fmtNum(value, digits = 4) {
  if (value === null || value === undefined || value === '') return '–';
  const n = Number(value);
  if (!Number.isFinite(n)) return String(value);
  if (n !== 0 && (Math.abs(n) < 1e-3 || Math.abs(n) >= 1e5)) return n.toExponential(2);
  return Number(n.toPrecision(digits)).toString();
}

export function fmtPct(value) {
  if (value === null || value === undefined) return '–';
  return `${(Number(value) * 100).toFixed(1)}%`;
}

export function fmtBytes(n) {
  if (!n) return '–';
  const units = ['B', 'KB', 'MB', 'GB'];
  let i = 0;
  let v = Number(n);
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i += 1; }
  return `${v.toFixed(v < 10 && i ? 1 : 0)} ${units[i]}`;
}

// toLocaleTimeString builds a formatter per call (slow in long lists): reuse one.
const TIME = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit',
  second: '2-digit', hour12: false });
export function fmtTime(iso) {
  if (!iso) return '–';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? String(iso) : TIME.format(d);
}

export function ago(iso, now = Date.now()) {
  if (!iso) return 'never';
  const s = Math.max(0, Math.round((now - new Date(iso).getTime()) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s ago`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86400)}d ago`;
}

export function shortId(id) {
  return id ? String(id).slice(0, 8) : '–';
}

export function runLabel(run) {
  return run?.name || run?.spec?.name || shortId(run?.id);
}

// One render per animation frame however many packets arrive in between.
export function frameScheduler(fn) {
  let pending = false;
  return () => {
    if (pending) return;
    pending = true;
    requestAnimationFrame(() => { pending = false; fn(); });
  };
}

// For lists that change very often (event feed), at most one render per interval.
export function throttle(fn, ms) {
  let timer = null;
  let last = 0;
  return () => {
    if (timer) return;
    const wait = Math.max(0, last + ms - Date.now());
    timer = setTimeout(() => {
      timer = null;
      last = Date.now();
      requestAnimationFrame(fn);
    }, wait);
  };
}
