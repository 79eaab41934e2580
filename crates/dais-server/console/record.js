// The meeting record timeline: every join, drop, redial, switch, roll call and mute of a
// meeting, with who commanded it and when (GET /meetings/{n}/record; the live record while the
// meeting runs, the stored one after it ended), and its CSV export.

import { api, token } from './api.js';
import { h, toast } from './dom.js';
import { commandLabel, t } from './i18n.js';

/** Milliseconds since the meeting opened, as h:mm:ss.s. */
export function offset(ms) {
  const s = Math.floor(ms / 1000);
  const hh = Math.floor(s / 3600);
  const mm = String(Math.floor((s % 3600) / 60)).padStart(2, '0');
  const ss = String(s % 60).padStart(2, '0');
  return `${hh}:${mm}:${ss}.${Math.floor((ms % 1000) / 100)}`;
}

/** What happened: `{kind, ...its fields}` (the API nests it under the entry's `kind`). */
function happening(entry) {
  return typeof entry.kind === 'object' && entry.kind !== null ? entry.kind : { kind: entry.kind };
}

/** The happening's own fields, as `name: value` text. */
function details(ev) {
  return Object.entries(ev)
    .filter(([k]) => !['kind', 'command'].includes(k))
    .map(([k, v]) => `${k}: ${typeof v === 'object' && v !== null ? JSON.stringify(v) : v}`)
    .join('  ');
}

function what(ev) {
  if (ev.kind === 'command') return commandLabel(ev.command);
  const key = `record.kind.${ev.kind}`;
  const label = t(key);
  return label === key ? ev.kind : label;
}

async function exportCsv(number) {
  // A plain link cannot carry the Authorization header: fetch, then save a blob.
  const resp = await fetch(`/api/v1/meetings/${encodeURIComponent(number)}/record.csv`, {
    headers: { Authorization: `Bearer ${token()}` },
    cache: 'no-store',
  });
  if (!resp.ok) {
    const body = await resp.json().catch(() => ({}));
    toast(t('toast.refused', { status: resp.status, msg: body.message ?? resp.statusText }), 'refused');
    return;
  }
  const url = URL.createObjectURL(await resp.blob());
  const a = h('a', { href: url, download: `meeting-${number}-record.csv` });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60000);
}

/** Renders meeting `number`'s record into `root`. */
export async function renderRecord(root, number) {
  const entries = await api('GET', `/meetings/${encodeURIComponent(number)}/record`);
  const rows = (entries ?? []).map((e) => {
    const ev = happening(e);
    return h(
      'tr',
      { dataset: { kind: ev.kind } },
      h('td', { class: 'at' }, offset(e.at)),
      h('td', {}, e.actor?.operator ?? t('record.system')),
      h('td', { class: 'what' }, what(ev)),
      h('td', { class: 'details' }, details(ev)),
    );
  });
  root.replaceChildren(
    h(
      'section',
      { class: 'ops record' },
      h('p', {}, h('a', { href: '#/meetings' }, `← ${t('top.meetings')}`)),
      h('h1', {}, t('record.title', { number })),
      h('p', {}, h('button', { type: 'button', id: 'record-csv', onclick: () => exportCsv(number) }, t('record.csv'))),
      h(
        'table',
        { id: 'record', class: 'ops' },
        h(
          'thead',
          {},
          h('tr', {}, h('th', {}, t('record.at')), h('th', {}, t('record.who')), h('th', {}, t('record.what')), h('th', {}, t('record.details'))),
        ),
        h('tbody', {}, rows.length ? rows : h('tr', { class: 'empty' }, h('td', { colspan: '4' }, t('record.empty')))),
      ),
    ),
  );
}
