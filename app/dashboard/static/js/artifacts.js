// The run's artifacts panel: what its worker stored in the artifact store
// (checkpoints, the model bundle, reports), each with a download link.
//
// A link is a plain <a download>: with auth off the browser streams the file
// itself. With a token, which a link cannot carry (API.md keeps tokens out of
// URLs), the click fetches it with the Authorization header and saves the blob.

import { api, artifactUrl, getToken } from './api.js';
import { fmtBytes, fmtTime, frameScheduler, h, replace } from './dom.js';
import { showBanner } from './status.js';

const KIND_ORDER = { model: 0, report: 1, checkpoint: 2 };

export class ArtifactsTable {
  constructor(runId) {
    this.runId = runId;
    this.items = [];
    this.body = h('tbody');
    this.el = h('section', { class: 'panel' },
      h('div', { class: 'panel-head' }, h('h3', {}, 'Artifacts')),
      h('div', { class: 'panel-body flush scroll', style: { 'max-height': '220px' } },
        h('table', { dataset: { testid: 'artifacts' } },
          h('thead', {}, h('tr', {}, ['name', 'kind', 'step', 'size', 'stored']
            .map((t) => h('th', {}, t)))), this.body)));
    this.schedule = frameScheduler(() => this.render());
    this.render();
  }

  load() {
    api.artifacts(this.runId).then((items) => this.update(items)).catch(() => {});
  }

  update(items) {
    // The bundle first, then reports, then checkpoints newest first.
    this.items = [...items].sort((a, b) => (KIND_ORDER[a.kind] ?? 9) - (KIND_ORDER[b.kind] ?? 9)
      || (b.step ?? 0) - (a.step ?? 0) || a.name.localeCompare(b.name));
    this.schedule();
  }

  render() {
    if (!this.items.length) {
      replace(this.body, h('tr', {}, h('td', { colspan: 5, class: 'empty' }, 'No artifacts yet.')));
      return;
    }
    replace(this.body, this.items.map((a) => h('tr', { dataset: { artifact: a.name, kind: a.kind } },
      h('td', { class: 'mono' }, this.link(a)), h('td', {}, a.kind),
      h('td', { class: 'num' }, a.step ?? '–'), h('td', { class: 'num' }, fmtBytes(a.bytes)),
      h('td', { title: `sha256 ${a.sha256}` }, fmtTime(a.created_at)))));
  }

  link(artifact) {
    return artifactLink(this.runId, artifact);
  }
}

// A download link to one of a run's artifacts (also the profiler's trace link).
export function artifactLink(runId, artifact) {
  const href = artifactUrl(runId, artifact.name);
  return h('a', { href, download: artifact.name, dataset: { testid: 'download' },
    onclick: (event) => {
      if (!getToken()) return; // no auth: the browser downloads it itself
      event.preventDefault();
      saveWithToken(href, artifact.name).catch((err) =>
        showBanner('download', 'danger', `Download of ${artifact.name} failed: ${err.message}`));
    } }, artifact.name);
}

async function saveWithToken(href, name) {
  const res = await fetch(href, { headers: { Authorization: `Bearer ${getToken()}` } });
  if (!res.ok) throw new Error(`HTTP ${res.status}`);
  const url = URL.createObjectURL(await res.blob());
  const anchor = h('a', { href: url, download: name, hidden: true });
  document.body.append(anchor);
  anchor.click();
  anchor.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60000);
}
