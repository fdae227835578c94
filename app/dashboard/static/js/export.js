// Export of a run's metric series at full resolution: every persisted packet of
// the named metrics (not the chart's buckets), paged from the history endpoint,
// saved as CSV or JSON by the browser.

import { api } from './api.js';

const PAGE = 5000; // the history endpoint's largest page
const COLUMNS = ['name', 'step', 'epoch', 'ts', 'value', 'cursor'];

export async function metricRows(runId, names) {
  const rows = [];
  let after = null;
  do {
    const page = await api.packets(runId, { names, after, kind: 'metric', limit: PAGE });
    for (const p of page?.items ?? []) rows.push(Object.fromEntries(COLUMNS.map((c) => [c, p[c] ?? null])));
    after = page?.next_cursor;
  } while (after);
  return rows;
}

function csvCell(v) {
  const text = v === null || v === undefined ? '' : String(v);
  return /[",\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

export function toCsv(rows) {
  return [COLUMNS.join(','), ...rows.map((r) => COLUMNS.map((c) => csvCell(r[c])).join(','))].join('\n') + '\n';
}

function save(text, type, filename) {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

export async function exportMetrics(runId, names, format, stem) {
  const rows = await metricRows(runId, names);
  if (format === 'csv') save(toCsv(rows), 'text/csv', `${stem}.csv`);
  else save(JSON.stringify({ run_id: runId, names, points: rows }, null, 1), 'application/json', `${stem}.json`);
  return rows.length;
}
