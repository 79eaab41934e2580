// The operations screens: bookings (the application form and each booking's approval stage),
// the approver's inbox, the A/B administrator registry, recordings and their release requests,
// and equipment (checks due, faults). Each screen is one function that fetches what it shows
// and renders it; an action re-renders the screen from the server's answer, so what is shown
// is always what the server holds. Controls the role cannot use are not rendered (roles.js).

import { api, operator, token } from './api.js';
import { h, toast } from './dom.js';
import { lang, t } from './i18n.js';
import { can } from './roles.js';

/** A Unix time (seconds) as the operator's local date and time. */
export function when(secs) {
  if (secs == null) return t('none');
  return new Date(secs * 1000).toLocaleString(lang() === 'zh' ? 'zh-CN' : 'en-GB', {
    dateStyle: 'short',
    timeStyle: 'short',
  });
}

function table(id, heads, rows, empty) {
  return h(
    'table',
    { id, class: 'ops' },
    h('thead', {}, h('tr', {}, heads.map((k) => h('th', { dataset: { col: k } }, k ? t(k) : '')))),
    h('tbody', {}, rows.length ? rows : h('tr', { class: 'empty' }, h('td', { colspan: String(heads.length) }, t(empty)))),
  );
}

function field(label, input) {
  return h('label', { class: 'field' }, h('span', {}, t(label)), input);
}

function refusedToast(e) {
  toast(e.status ? t('toast.refused', { status: e.status, msg: e.message }) : t('toast.error', { msg: e.message }), 'refused');
}

/** Runs `action`, then re-renders with `again`; a refusal shows the server's reason. */
async function act(action, again, done) {
  try {
    await action();
    if (done) toast(t(done), 'info');
  } catch (e) {
    refusedToast(e);
  }
  await again();
}

// ---- bookings --------------------------------------------------------------------------------

function stageLabel(stage) {
  return stage ? t(`stage.${stage}`) : t('none');
}

function opinions(b) {
  return h(
    'ul',
    { class: 'opinions' },
    b.opinions.map((o) =>
      h(
        'li',
        { class: o.approved ? 'ok' : 'bad', dataset: { stage: o.stage } },
        `${stageLabel(o.stage)} · ${o.approver} · ${t(o.approved ? 'bk.approved_by' : 'bk.rejected_by')}: ${o.opinion}`,
      ),
    ),
  );
}

function bookingRow(b, extra) {
  return h(
    'tr',
    { dataset: { booking: String(b.id), status: b.status } },
    h('td', {}, String(b.id)),
    h('td', {}, b.subject, h('div', { class: 'sub' }, `${b.applying_unit} · ${b.applicant}`)),
    h('td', {}, b.room),
    h('td', {}, `${when(b.starts_at)} – ${when(b.ends_at)}`),
    h('td', {}, b.venues.join(', ')),
    h('td', { class: `bk-status ${b.status}` }, t(`bk.status.${b.status}`)),
    h('td', { class: 'bk-meeting' }, b.meeting_number ?? t('none')),
    h('td', {}, opinions(b)),
    extra && h('td', { class: 'row-actions' }, extra),
  );
}

const BOOKING_HEADS = ['bk.id', 'bk.subject', 'bk.room', 'bk.time', 'bk.venues', 'bk.status', 'bk.meeting', 'bk.opinions'];

function localInput(id, secs) {
  // datetime-local wants local time without a zone: shift by the zone offset.
  const d = new Date(secs * 1000);
  const local = new Date(d.getTime() - d.getTimezoneOffset() * 60000).toISOString().slice(0, 16);
  return h('input', { id, type: 'datetime-local', value: local, required: true });
}

function bookingForm(rooms, venues, again) {
  const start = Math.ceil(Date.now() / 3600000 + 48) * 3600; // two days ahead, on the hour
  const f = {
    unit: h('input', { id: 'bk-unit', required: true }),
    subject: h('input', { id: 'bk-subject', required: true }),
    attendees: h('input', { id: 'bk-attendees', required: true }),
    count: h('input', { id: 'bk-count', type: 'number', min: '1', value: '10', required: true }),
    start: localInput('bk-start', start),
    end: localInput('bk-end', start + 3600),
    room: h('select', { id: 'bk-room' }, rooms.map((r) => h('option', { value: r }, r))),
    main: h('select', { id: 'bk-main' }, venues.map((v) => h('option', { value: v.name }, v.name))),
    chair: h('input', { id: 'bk-chair' }),
    number: h('input', { id: 'bk-number', inputmode: 'numeric' }),
    remarks: h('input', { id: 'bk-remarks' }),
  };
  const picks = venues.map((v) => h('input', { type: 'checkbox', class: 'bk-venue', value: v.name }));
  const err = h('p', { class: 'error', id: 'bk-error', role: 'alert' });
  const secs = (input) => Math.floor(new Date(input.value).getTime() / 1000);
  return h(
    'form',
    {
      id: 'booking-form',
      class: 'ops-form',
      onsubmit: async (e) => {
        e.preventDefault();
        err.textContent = '';
        const main = f.main.value;
        const others = picks.filter((p) => p.checked && p.value !== main).map((p) => p.value);
        const body = {
          applying_unit: f.unit.value,
          subject: f.subject.value,
          attendees: f.attendees.value,
          attendee_count: Number(f.count.value),
          starts_at: secs(f.start),
          ends_at: secs(f.end),
          room: f.room.value,
          venues: [main, ...others],
          remarks: f.remarks.value,
          chair: f.chair.value || null,
          meeting_number: f.number.value || null,
        };
        try {
          const b = await api('POST', '/bookings', body);
          toast(t('bk.filed', { id: b.id }), 'info');
          await again();
        } catch (ex) {
          // The form keeps what was typed; the server's reason (clash, bad field) is shown.
          err.textContent = t('toast.refused', { status: ex.status, msg: ex.message });
        }
      },
    },
    h('h2', {}, t('bk.form')),
    h(
      'div',
      { class: 'grid' },
      field('bk.unit', f.unit),
      field('bk.subject', f.subject),
      field('bk.attendees', f.attendees),
      field('bk.count', f.count),
      field('bk.start', f.start),
      field('bk.end', f.end),
      field('bk.room', f.room),
      field('bk.main', f.main),
      field('bk.chair', f.chair),
      field('bk.number', f.number),
      field('bk.remarks', f.remarks),
    ),
    h(
      'fieldset',
      { class: 'venues' },
      h('legend', {}, t('bk.others')),
      venues.map((v, i) => h('label', {}, picks[i], v.name)),
    ),
    h('button', { type: 'submit', id: 'bk-submit' }, t('bk.submit')),
    err,
  );
}

export async function renderBookings(root) {
  const again = () => renderBookings(root);
  const list = await api('GET', '/bookings');
  let form = null;
  if (can('booking.file')) {
    const [rooms, venues] = await Promise.all([api('GET', '/rooms'), api('GET', '/venues')]);
    form = bookingForm(rooms, venues, again);
  }
  root.replaceChildren(
    h(
      'section',
      { class: 'ops-screen', id: 'bookings' },
      h('h1', {}, t('bk.title')),
      form,
      h('h2', {}, t('bk.list')),
      table('booking-list', BOOKING_HEADS, list.map((b) => bookingRow(b)), 'bk.none'),
    ),
  );
}

export async function renderInbox(root) {
  const again = () => renderInbox(root);
  const list = await api('GET', '/bookings/inbox');
  const rows = list.map((b) => {
    const opinion = h('input', { class: 'opinion', 'aria-label': t('bk.opinion'), placeholder: t('bk.opinion') });
    const decide = (approve) => () =>
      act(() => api('POST', `/bookings/${b.id}/decision`, { approve, opinion: opinion.value }), again, approve ? 'bk.done_approve' : 'bk.done_reject');
    return bookingRow(
      b,
      can('booking.decide') && [
        opinion,
        h('button', { type: 'button', class: 'approve', onclick: decide(true) }, t('bk.approve')),
        h('button', { type: 'button', class: 'reject danger', onclick: decide(false) }, t('bk.reject')),
      ],
    );
  });
  root.replaceChildren(
    h(
      'section',
      { class: 'ops-screen', id: 'inbox' },
      h('h1', {}, t('inbox.title')),
      h('p', { class: 'sub' }, t('inbox.hint')),
      table('inbox-list', [...BOOKING_HEADS, ''], rows, 'inbox.none'),
    ),
  );
}

// ---- sites and A/B administrators ------------------------------------------------------------

const REASONS = ['appointment', 'transfer', 'leave', 'resignation', 'retirement'];

function slotCell(site, slot, again) {
  const s = site[slot];
  const holder = h('span', { class: s.operator ? 'holder' : 'holder vacant' }, s.operator ?? t('site.vacant'));
  if (!can('site.edit')) return h('td', { dataset: { slot } }, holder, h('div', { class: 'sub' }, t('site.since', { when: when(s.since) })));
  const who = h('input', { class: 'slot-operator', value: s.operator ?? '', placeholder: t('site.operator'), 'aria-label': t('site.operator') });
  const reason = h(
    'select',
    { class: 'slot-reason', 'aria-label': t('site.reason') },
    REASONS.map((r) => h('option', { value: r, selected: (s.operator ? r === 'transfer' : r === 'appointment') || undefined }, t(`reason.${r}`))),
  );
  const note = h('input', { class: 'slot-note', placeholder: t('site.note'), 'aria-label': t('site.note') });
  const save = h(
    'button',
    {
      type: 'button',
      class: 'slot-save',
      onclick: () =>
        act(
          () =>
            api('PUT', `/sites/${encodeURIComponent(site.name)}/slots/${slot}`, {
              operator: who.value.trim() || null,
              reason: reason.value,
              note: note.value,
            }),
          again,
          'site.saved',
        ),
    },
    t('site.save'),
  );
  return h('td', { dataset: { slot } }, holder, h('div', { class: 'sub' }, t('site.since', { when: when(s.since) })), h('div', { class: 'slot-edit' }, who, reason, note, save));
}

export async function renderSites(root, open) {
  const again = () => renderSites(root, open);
  const sites = await api('GET', '/sites');
  let history = null;
  const shown = open ?? sites.find((s) => s.vacant)?.name ?? sites[0]?.name;
  if (shown && sites.some((s) => s.name === shown)) {
    const hist = await api('GET', `/sites/${encodeURIComponent(shown)}/history`);
    history = h(
      'section',
      { id: 'site-history', dataset: { site: shown } },
      h('h2', {}, t('site.history', { site: shown })),
      table(
        'history-list',
        ['site.slot', 'site.previous', 'site.next', 'site.reason', 'site.note', 'site.by', 'site.at'],
        hist.map((c) =>
          h(
            'tr',
            { dataset: { reason: c.reason } },
            h('td', {}, c.slot.toUpperCase()),
            h('td', {}, c.previous ?? t('site.vacant')),
            h('td', {}, c.next ?? t('site.vacant')),
            h('td', {}, t(`reason.${c.reason}`)),
            h('td', {}, c.note),
            h('td', {}, c.by),
            h('td', {}, when(c.at)),
          ),
        ),
        'site.no_history',
      ),
    );
  }
  const rows = sites.map((s) =>
    h(
      'tr',
      { dataset: { site: s.name, vacant: String(s.vacant) }, class: s.vacant ? 'vacant' : '' },
      h('td', {}, h('a', { href: '#/sites', class: 'site-open', onclick: (e) => (e.preventDefault(), renderSites(root, s.name)) }, s.name)),
      slotCell(s, 'a', again),
      slotCell(s, 'b', again),
      h('td', { class: 'site-state' }, s.vacant ? h('span', { class: 'badge vacant' }, t('site.needs_staff')) : t('site.staffed')),
    ),
  );
  let form = null;
  if (can('site.edit')) {
    const name = h('input', { id: 'site-name', required: true, pattern: '[a-z0-9_\\-]{1,32}' });
    form = h(
      'form',
      {
        id: 'site-form',
        class: 'ops-form inline',
        onsubmit: (e) => {
          e.preventDefault();
          act(() => api('POST', '/sites', { name: name.value }), again, 'site.created');
        },
      },
      field('site.new', name),
      h('button', { type: 'submit' }, t('site.create')),
    );
  }
  root.replaceChildren(
    h(
      'section',
      { class: 'ops-screen', id: 'sites' },
      h('h1', {}, t('site.title')),
      form,
      table('site-list', ['site.name', 'site.a', 'site.b', 'site.state'], rows, 'site.none'),
      history,
    ),
  );
}

// ---- recordings and release requests -------------------------------------------------------

function size(bytes) {
  if (bytes >= 1 << 30) return `${(bytes / (1 << 30)).toFixed(2)} GiB`;
  if (bytes >= 1 << 20) return `${(bytes / (1 << 20)).toFixed(1)} MiB`;
  return `${(bytes / 1024).toFixed(0)} KiB`;
}

/** Fetches an approved recording with the bearer token and hands it to the browser to save. */
async function download(rec) {
  // A plain link cannot carry the Authorization header, so fetch it and save a blob.
  const resp = await fetch(`/api/v1/recordings/${rec.id}/download`, {
    headers: { Authorization: `Bearer ${token()}` },
    cache: 'no-store',
  });
  if (!resp.ok) {
    const body = await resp.json().catch(() => ({}));
    toast(t('toast.refused', { status: resp.status, msg: body.message ?? resp.statusText }), 'refused');
    return;
  }
  const url = URL.createObjectURL(await resp.blob());
  const a = h('a', { href: url, download: `meeting-${rec.meeting}-${rec.id}.mkv` });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60000);
}

export async function renderRecordings(root, open) {
  const again = () => renderRecordings(root, open);
  const list = await api('GET', '/recordings');
  const me = operator()?.username;
  const rows = list.map((r) =>
    h(
      'tr',
      { dataset: { recording: String(r.id) } },
      h('td', {}, String(r.id)),
      h('td', {}, r.meeting),
      h('td', {}, when(r.started_at)),
      h('td', {}, when(r.ended_at)),
      h('td', {}, size(r.size)),
      h('td', { class: 'mono' }, r.sha256.slice(0, 12)),
      h('td', {}, h('button', { type: 'button', class: 'rec-open', onclick: () => renderRecordings(root, r.id) }, t('rec.releases'))),
    ),
  );
  let detail = null;
  if (open != null) {
    const d = await api('GET', `/recordings/${open}`);
    const now = Date.now() / 1000;
    const relRows = d.releases.map((rel) => {
      const acts = [];
      if (rel.state === 'requested' && can('recording.decide') && rel.requested_by !== me) {
        const hours = h('input', { type: 'number', class: 'rel-hours', min: '1', max: '168', value: '24', 'aria-label': t('rec.hours') });
        const decide = (approve) => () =>
          act(() => api('POST', `/recordings/releases/${rel.id}/decision`, { approve, valid_hours: Number(hours.value) }), again);
        acts.push(
          h('label', {}, t('rec.hours'), hours),
          h('button', { type: 'button', class: 'approve', onclick: decide(true) }, t('rec.approve')),
          h('button', { type: 'button', class: 'reject danger', onclick: decide(false) }, t('rec.reject')),
        );
      }
      // The download link only for the requester of an approved release that still holds.
      if (rel.state === 'approved' && rel.requested_by === me && (rel.expires_at ?? 0) > now) {
        acts.push(h('button', { type: 'button', class: 'download', onclick: () => download(d.recording) }, t('rec.download')));
      }
      return h(
        'tr',
        { dataset: { release: String(rel.id), state: rel.state } },
        h('td', {}, String(rel.id)),
        h('td', {}, rel.requested_by),
        h('td', {}, rel.reason),
        h('td', {}, when(rel.requested_at)),
        h('td', {}, t(`rec.state.${rel.state}`)),
        h('td', {}, rel.decided_by ?? t('none')),
        h('td', {}, rel.expires_at ? when(rel.expires_at) : t('none')),
        h('td', { class: 'row-actions' }, acts),
      );
    });
    let ask = null;
    if (can('recording.request')) {
      const reason = h('input', { id: 'rel-reason', required: true });
      ask = h(
        'form',
        {
          id: 'release-form',
          class: 'ops-form inline',
          onsubmit: (e) => {
            e.preventDefault();
            act(() => api('POST', `/recordings/${open}/releases`, { reason: reason.value }), again, 'rec.requested');
          },
        },
        field('rec.reason', reason),
        h('button', { type: 'submit' }, t('rec.request')),
      );
    }
    detail = h(
      'section',
      { id: 'recording-detail', dataset: { recording: String(open) } },
      h('h2', {}, t('rec.detail', { id: open, meeting: d.recording.meeting })),
      ask,
      table(
        'release-list',
        ['rec.id', 'rec.by', 'rec.reason', 'rec.at', 'rec.state', 'rec.decided', 'rec.expires', ''],
        relRows,
        'rec.no_releases',
      ),
    );
  }
  root.replaceChildren(
    h(
      'section',
      { class: 'ops-screen', id: 'recordings' },
      h('h1', {}, t('rec.title')),
      table('recording-list', ['rec.id', 'rec.meeting', 'rec.started', 'rec.ended', 'rec.size', 'rec.sha', ''], rows, 'rec.none'),
      detail,
    ),
  );
}

// ---- equipment -------------------------------------------------------------------------------

/** The next statuses of a fault (the store's state machine; the server refuses any other). */
const FAULT_NEXT = {
  open: ['in_repair', 'fixed', 'reported_to_it_centre'],
  in_repair: ['fixed', 'reported_to_it_centre'],
};

export async function renderEquipment(root) {
  const again = () => renderEquipment(root);
  const [due, faults] = await Promise.all([api('GET', '/equipment/due'), api('GET', '/equipment/faults')]);
  const write = can('equipment.write');
  const dueRows = due.map((d) => {
    let record = null;
    if (write) {
      const passed = h('input', { type: 'checkbox', class: 'check-passed', checked: true });
      const notes = h('input', { class: 'check-notes', placeholder: t('eq.notes'), 'aria-label': t('eq.notes') });
      record = [
        h('label', {}, passed, t('eq.passed')),
        notes,
        h(
          'button',
          {
            type: 'button',
            class: 'check-record',
            onclick: () =>
              act(() => api('POST', '/equipment/checks', { venue: d.venue, passed: passed.checked, notes: notes.value }), again, 'eq.recorded'),
          },
          t('eq.record'),
        ),
      ];
    }
    return h(
      'tr',
      { dataset: { venue: d.venue, overdue: String(d.overdue) }, class: d.overdue ? 'overdue' : '' },
      h('td', {}, d.venue),
      h('td', {}, when(d.last_check)),
      h('td', {}, when(d.due_at)),
      h('td', {}, d.overdue ? h('span', { class: 'badge overdue' }, t('eq.overdue')) : t('eq.due_soon')),
      write && h('td', { class: 'row-actions' }, record),
    );
  });
  const faultRows = faults.map((f) =>
    h(
      'tr',
      { dataset: { fault: String(f.id), status: f.status } },
      h('td', {}, String(f.id)),
      h('td', {}, f.venue),
      h('td', {}, f.description),
      h('td', {}, f.reported_by),
      h('td', { class: `fault-status ${f.status}` }, t(`fault.${f.status}`)),
      h('td', {}, when(f.updated_at)),
      write &&
        h(
          'td',
          { class: 'row-actions' },
          (FAULT_NEXT[f.status] ?? []).map((next) =>
            h(
              'button',
              {
                type: 'button',
                dataset: { next },
                onclick: () => act(() => api('POST', `/equipment/faults/${f.id}/status`, { status: next }), again),
              },
              t(`fault.to.${next}`),
            ),
          ),
        ),
    ),
  );
  let report = null;
  if (write) {
    const venue = h('input', { id: 'fault-venue', required: true });
    const desc = h('input', { id: 'fault-desc', required: true });
    report = h(
      'form',
      {
        id: 'fault-form',
        class: 'ops-form inline',
        onsubmit: (e) => {
          e.preventDefault();
          act(() => api('POST', '/equipment/faults', { venue: venue.value, description: desc.value }), again, 'eq.reported');
        },
      },
      field('eq.venue', venue),
      field('eq.description', desc),
      h('button', { type: 'submit' }, t('eq.report')),
    );
  }
  const dueHeads = ['eq.venue', 'eq.last', 'eq.due_at', 'eq.state'];
  const faultHeads = ['eq.id', 'eq.venue', 'eq.description', 'eq.by', 'eq.status', 'eq.updated'];
  root.replaceChildren(
    h(
      'section',
      { class: 'ops-screen', id: 'equipment' },
      h('h1', {}, t('eq.title')),
      h('h2', {}, t('eq.due')),
      table('due-list', write ? [...dueHeads, ''] : dueHeads, dueRows, 'eq.none_due'),
      h('h2', {}, t('eq.faults')),
      report,
      table('fault-list', write ? [...faultHeads, ''] : faultHeads, faultRows, 'eq.no_faults'),
    ),
  );
}
