// The console's shell: login, the meeting list, and the meeting wall (wall.js). Hash routes:
// #/login, #/meetings, #/meeting/<number>, and the operations screens (ops.js): #/bookings,
// #/inbox, #/sites, #/recordings, #/equipment, and a meeting's record: #/meeting/<number>/record
// (record.js).

import { api, login, logout, operator, refreshOperator, token } from './api.js';
import { h, toast } from './dom.js';
import { lang, setLang, t } from './i18n.js';
import { renderBookings, renderEquipment, renderInbox, renderRecordings, renderSites } from './ops.js';
import { renderRecord } from './record.js';
import { can } from './roles.js';
import { Wall } from './wall.js';

/** The operations screens: route, the permission that shows its link, the renderer. */
const SCREENS = [
  ['bookings', 'screen.bookings', renderBookings],
  ['inbox', 'screen.inbox', renderInbox],
  ['sites', 'screen.sites', renderSites],
  ['equipment', 'screen.equipment', renderEquipment],
  ['recordings', 'screen.recordings', renderRecordings],
];

const main = () => document.getElementById('main');
let wall = null;
let listTimer = null;
let refreshed = false;
const LIST_EVERY_MS = 5000; // the list has no event stream: meetings start and end elsewhere

export function roleLabel(role) {
  if (!role) return '';
  switch (role.kind) {
    case 'site_admin':
      return t('role.site_admin', { site: role.site });
    case 'approver':
      return t('role.approver', { stage: t(`stage.${role.stage}`) });
    default:
      return t(`role.${role.kind}`);
  }
}

function renderTop() {
  const top = document.getElementById('top');
  const who = operator();
  // Logged out, the operator's items are null: replaceChildren would print them as "null".
  const items = [
    h('a', { class: 'brand', href: '#/meetings' }, t('app.title')),
    h('span', { class: 'spacer' }),
    who && h('a', { href: '#/meetings', id: 'nav-meetings' }, t('top.meetings')),
    // Only the screens this role may open (the server refuses the others anyway).
    ...(who ? SCREENS.filter(([, perm]) => can(perm)).map(([name]) => h('a', { href: `#/${name}`, id: `nav-${name}` }, t(`top.${name}`))) : []),
    who && h('span', { class: 'who', id: 'who' }, `${who.username} · ${roleLabel(who.role)}`),
    h(
      'button',
      {
        id: 'lang',
        type: 'button',
        onclick: () => {
          setLang(lang() === 'zh' ? 'en' : 'zh');
          // A message shown in the other language would linger for seconds.
          document.getElementById('toast').className = 'toast';
          route();
        },
      },
      t('top.lang'),
    ),
    who &&
      h(
        'button',
        {
          id: 'logout',
          type: 'button',
          onclick: async () => {
            await logout().catch(() => {});
            location.hash = '#/login';
          },
        },
        t('top.logout'),
      ),
  ];
  top.replaceChildren(...items.filter(Boolean));
  document.title = t('app.title');
}

function renderLogin() {
  const user = h('input', { id: 'login-user', name: 'username', autocomplete: 'username', required: true });
  const pw = h('input', {
    id: 'login-password',
    name: 'password',
    type: 'password',
    autocomplete: 'current-password',
    required: true,
  });
  const err = h('p', { class: 'error', id: 'login-error', role: 'alert' });
  const form = h(
    'form',
    {
      class: 'login',
      id: 'login-form',
      onsubmit: async (e) => {
        e.preventDefault();
        err.textContent = '';
        try {
          await login(user.value, pw.value);
          location.hash = '#/meetings';
        } catch (ex) {
          err.textContent = t('login.failed', { msg: ex.message });
        }
      },
    },
    h('h1', {}, t('login.title')),
    h('label', {}, t('login.user'), user),
    h('label', {}, t('login.password'), pw),
    h('button', { type: 'submit', id: 'login-submit' }, t('login.submit')),
    err,
  );
  main().replaceChildren(form);
  user.focus();
}

function startButton(number, testing) {
  return h(
    'button',
    {
      type: 'button',
      id: `${testing ? 'start-test' : 'start-live'}-${number}`,
      onclick: async (e) => {
        e.target.disabled = true;
        try {
          await api('POST', `/meetings/${number}/start`, { testing });
          location.hash = `#/meeting/${number}`;
        } catch (ex) {
          e.target.disabled = false;
          toast(t('toast.refused', { status: ex.status, msg: ex.message }), 'refused');
        }
      },
    },
    t(testing ? 'meetings.start_test' : 'meetings.start_live'),
  );
}

async function renderMeetings() {
  const list = await api('GET', '/meetings');
  const rows = list.map((m) =>
    h(
      'tr',
      { dataset: { meeting: m.number } },
      h('td', {}, m.number),
      h('td', {}, m.subject),
      h('td', { class: `state ${m.state}` }, t(`state.${m.state}`)),
      h('td', {}, `${m.venues_connected} / ${m.venues_total}`),
      h(
        'td',
        { class: 'row-actions' },
        h('a', { class: 'button', href: `#/meeting/${m.number}`, id: `open-${m.number}` }, t('meetings.open')),
        can('record.read') && h('a', { class: 'button', href: `#/meeting/${m.number}/record`, id: `record-${m.number}` }, t('meetings.record')),
        // A stored meeting not running yet: start it in joint test or straight live.
        m.state === 'scheduled' && can('meeting.start') && startButton(m.number, true),
        m.state === 'scheduled' && can('meeting.start') && startButton(m.number, false),
      ),
    ),
  );
  main().replaceChildren(
    h(
      'section',
      { class: 'meetings' },
      h('h1', {}, t('meetings.title')),
      rows.length
        ? h(
            'table',
            { id: 'meeting-list' },
            h(
              'thead',
              {},
              h(
                'tr',
                {},
                h('th', {}, t('meetings.number')),
                h('th', {}, t('meetings.subject')),
                h('th', {}, t('meetings.state')),
                h('th', {}, t('meetings.connected')),
                h('th', {}),
              ),
            ),
            h('tbody', {}, rows),
          )
        : h('p', {}, t('meetings.none')),
    ),
  );
}

async function route() {
  lang();
  renderTop();
  const hash = location.hash || '#/meetings';
  if (!token() && hash !== '#/login') {
    location.hash = '#/login';
    return;
  }
  clearInterval(listTimer);
  // The role may have changed since login (GET /me is the truth; it also checks the session).
  if (token() && hash !== '#/login' && !refreshed) {
    refreshed = true;
    await refreshOperator().catch(() => {});
    renderTop();
  }
  const m = hash.match(/^#\/meeting\/(\d{1,32})$/);
  const rec = hash.match(/^#\/meeting\/(\d{1,32})\/record$/);
  if (wall && !(m && wall.number === m[1])) {
    wall.close();
    wall = null;
  }
  try {
    const screen = SCREENS.find(([name]) => hash === `#/${name}`);
    if (hash === '#/login') {
      refreshed = false;
      renderLogin();
    } else if (screen) await screen[2](main());
    else if (rec) await renderRecord(main(), rec[1]);
    else if (m) {
      if (wall) wall.render();
      else {
        const w = new Wall(m[1], main());
        await w.start(); // throws (refused, unknown) before anything runs in the background
        // The operator may have moved on while it loaded.
        if (location.hash === hash) wall = w;
        else w.close();
      }
    } else {
      await renderMeetings();
      // The hash may have moved on while the list loaded.
      if ((location.hash || '#/meetings') === hash) {
        listTimer = setInterval(() => {
          if ((location.hash || '#/meetings') === hash) renderMeetings().catch(() => {});
        }, LIST_EVERY_MS);
      }
    }
  } catch (e) {
    if (e.status === 403 || e.status === 404) main().replaceChildren();
    toast(e.status ? t('toast.refused', { status: e.status, msg: e.message }) : t('toast.error', { msg: e.message }), 'error');
  }
}

window.addEventListener('hashchange', route);
window.addEventListener('dais:logged-out', () => {
  location.hash = '#/login';
});
route();
