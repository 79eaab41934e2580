// The meeting wall: every venue a tile in the network's hierarchy, live from the REST snapshot
// and the event stream, with one click or key per chair command.
//
// Tiles and the toolbar are built once and then updated in place, so that an update never
// steals a click, a focus or a half-typed polling interval.

import { api, ApiError, events } from './api.js';
import { h, toast } from './dom.js';
import { commandLabel, t } from './i18n.js';
import { roleSite, wallRights } from './roles.js';

const SNAPSHOT_EVERY_MS = 5000; // mute and lock changes have no event yet: a slow refresh
const LOG_MAX = 40;
const SWITCH_MATCH_MS = 10000; // beyond the media engine's forced cut-over timeout

/** Which feed a command's cut-over shows up on, for matching `switch_completed` to it. */
function expectedSwitch(body, mainVenue) {
  switch (body.command) {
    case 'broadcast':
    case 'roll_call':
      return { feed: 'broadcast', venue: body.venue };
    case 'return_to_main':
      return { feed: 'broadcast', venue: mainVenue };
    case 'view':
      return { feed: 'chair_view', venue: body.venue };
    default:
      return null;
  }
}

export class Wall {
  constructor(number, root) {
    this.number = number;
    this.root = root;
    this.detail = null;
    this.media = new Map();
    this.alarms = new Map(); // venue -> Set('frozen' | 'no_media')
    this.levels = new Map();
    this.dominant = null;
    this.selected = null;
    this.pollSet = new Set();
    this.log = [];
    this.seq = 0;
    this.lastSwitch = null;
    this.wsOpen = false;
    this.tiles = new Map();
    this.order = [];
    this.refreshTimer = null;
    this.periodic = null;
    this.stopEvents = null;
    this.onKey = (e) => this.key(e);
    // What this role may send: controls it cannot use are not shown (the server still decides).
    this.rights = wallRights();
    this.ownVenues = new Set(); // a site administrator's venues (GET /venues shows only those)
  }

  /** True when the role may send `command` (on `venue`), so its control is shown. */
  allowed(command, venue) {
    if (this.rights === 'all') return true;
    if (this.rights !== 'own' || !venue || !this.ownVenues.has(venue)) return false;
    return ['mute', 'unmute', 'dial', 'hang_up', 'redial'].includes(command);
  }

  async start() {
    if (this.rights === 'own') {
      // The server's rule (api/access.rs `site_scope`): the site's venues, and the venue named
      // like the site.
      const venues = await api('GET', '/venues');
      this.ownVenues = new Set([...venues.map((v) => v.name), roleSite()]);
    }
    await this.refresh();
    this.periodic = setInterval(() => this.refresh().catch(() => {}), SNAPSHOT_EVERY_MS);
    document.addEventListener('keydown', this.onKey);
  }

  close() {
    if (this.stopEvents) this.stopEvents();
    clearInterval(this.periodic);
    clearTimeout(this.refreshTimer);
    document.removeEventListener('keydown', this.onKey);
  }

  // ---- state -------------------------------------------------------------------------------

  get conf() {
    return this.detail?.extra?.live?.conference ?? null;
  }

  name(v) {
    return this.detail?.extra?.display_names?.[v] ?? v;
  }

  leg(v) {
    return this.conf?.legs?.find((l) => l.venue === v) ?? null;
  }

  async refresh() {
    const d = await api('GET', `/meetings/${this.number}`);
    const first = !this.detail;
    this.detail = d;
    for (const m of d.extra?.live?.media ?? []) this.media.set(m.venue, m);
    if (first || !this.root.contains(this.wallEl ?? null)) this.render();
    else this.update();
    this.ensureEvents();
  }

  /**
   * Opens the event stream once the meeting runs (a stored meeting that is not running has
   * none), and stops reconnecting once it has ended (its stream is gone for good).
   */
  ensureEvents() {
    const running = this.detail?.extra?.running !== false && this.detail?.state !== 'ended';
    if (!running || this.stopEvents) return;
    this.stopEvents = events(
      this.number,
      (ev) => this.event(ev),
      (open) => {
        this.wsOpen = open;
        this.updateStatus();
        // After a reconnect, the snapshot covers what the closed stream missed.
        if (open) this.soon();
        else if (this.detail?.state === 'ended') this.stopEvents?.();
      },
    );
  }

  /** A snapshot soon, once, however many events ask for it. */
  soon() {
    clearTimeout(this.refreshTimer);
    this.refreshTimer = setTimeout(() => this.refresh().catch(() => {}), 150);
  }

  event(ev) {
    const c = this.conf;
    switch (ev.type) {
      case 'conference':
        if (c) this.applyConference(c, ev);
        this.update();
        this.soon();
        break;
      case 'switch_completed':
        this.switched(ev);
        break;
      case 'media_stats':
        for (const m of ev.venues) this.media.set(m.venue, m);
        this.update();
        break;
      case 'media_health': {
        const set = this.alarms.get(ev.venue) ?? new Set();
        if (ev.state === 'frozen') set.add('frozen');
        if (ev.state === 'thawed') set.delete('frozen');
        if (ev.state === 'no_media') set.add('no_media');
        if (ev.state === 'resumed') set.delete('no_media');
        this.alarms.set(ev.venue, set);
        this.update();
        break;
      }
      case 'audio_levels':
        for (const l of ev.levels) this.levels.set(l.venue, l);
        this.updateMeters();
        break;
      case 'dominant_speaker':
        this.dominant = ev.venue;
        this.update();
        break;
      case 'lagged':
        this.soon();
        break;
      default:
        break;
    }
  }

  applyConference(c, ev) {
    switch (ev.event) {
      case 'shown':
        c.feeds[ev.feed] = ev.venue;
        if (ev.feed === 'broadcast') this.detail.broadcast = ev.venue;
        break;
      case 'leg_changed': {
        const l = c.legs.find((x) => x.venue === ev.venue);
        if (l) l.status = ev.status;
        const s = this.detail.venues.find((x) => x.name === ev.venue);
        if (s) s.leg = ev.status.status;
        break;
      }
      case 'state_changed':
        c.state = ev.to;
        this.detail.state = ev.to;
        break;
      case 'polling':
        c.polling.status = ev.status;
        break;
      case 'roll_call':
        c.roll_call = ev.venue;
        break;
      // `command_refused` is not shown here: the refused operator's own console already shows
      // the HTTP answer (status and reason), and a second banner would race with it.
      default:
        break;
    }
  }

  switched(ev) {
    this.lastSwitch = ev.latency_ms;
    // A command whose cut-over never came (the venue was already shown) must not claim a
    // later, unrelated one: match only recent commands.
    const now = performance.now();
    const entry = this.log.find(
      (e) =>
        e.expect &&
        !e.latency &&
        now - e.sentAt < SWITCH_MATCH_MS &&
        e.expect.feed === ev.feed &&
        e.expect.venue === ev.venue,
    );
    if (entry) {
      entry.latency = ev.latency_ms;
      entry.forced = ev.forced;
    } else {
      // A switch nobody here asked for: polling, voice activation, a fallback, another operator.
      this.pushLog({ cmd: ev.feed, venue: ev.venue, latency: ev.latency_ms, forced: ev.forced, auto: true });
    }
    this.updateStatus();
    this.renderLog();
  }

  pushLog(e) {
    e.id = ++this.seq;
    this.log.unshift(e);
    this.log.length = Math.min(this.log.length, LOG_MAX);
    return e;
  }

  /** Sends one chair command; logs it with its round trip and, later, its switch latency. */
  async cmd(body) {
    const entry = this.pushLog({
      cmd: body.command,
      venue: body.venue ?? '',
      expect: expectedSwitch(body, this.detail?.main_venue),
      state: 'pending',
      sentAt: performance.now(),
    });
    this.renderLog();
    const t0 = performance.now();
    try {
      await api('POST', `/meetings/${this.number}/commands`, body);
      entry.state = 'ok';
      entry.rtt = performance.now() - t0;
    } catch (e) {
      entry.state = 'refused';
      entry.expect = null;
      entry.msg = e.message;
      const status = e instanceof ApiError ? e.status : 0;
      toast(t('toast.refused', { status, msg: e.message }), 'refused');
    }
    this.renderLog();
    this.soon();
  }

  // ---- layout ------------------------------------------------------------------------------

  /** Groups of venue ids: the main venue, each city with its counties, the province's units. */
  layout() {
    const ids = this.detail.venues.map((v) => v.name);
    const plan = new Map((this.detail.extra?.plan ?? []).map((v) => [v.id, v]));
    const main = this.detail.main_venue;
    const groups = [];
    const placed = new Set();
    if (main && ids.includes(main)) {
      groups.push({ key: 'main', title: t('group.main'), ids: [main], cls: 'main' });
      placed.add(main);
    }
    for (const id of ids) {
      const v = plan.get(id);
      if (!v || v.kind !== 'city' || placed.has(id)) continue;
      const kids = ids.filter((k) => plan.get(k)?.parent === id && !placed.has(k));
      groups.push({ key: `city-${id}`, title: this.name(id), ids: [id, ...kids], cls: 'city' });
      placed.add(id);
      kids.forEach((k) => placed.add(k));
    }
    const units = ids.filter((k) => !placed.has(k) && plan.get(k)?.parent === main);
    if (units.length) {
      groups.push({ key: 'units', title: t('group.units'), ids: units, cls: 'units' });
      units.forEach((k) => placed.add(k));
    }
    const rest = ids.filter((k) => !placed.has(k));
    if (rest.length) groups.push({ key: 'other', title: t('group.other'), ids: rest, cls: 'other' });
    return groups;
  }

  render() {
    const d = this.detail;
    this.tiles.clear();
    const groups = this.layout();
    this.order = groups.flatMap((g) => g.ids);
    if (!this.selected || !this.order.includes(this.selected)) this.selected = this.order[0] ?? null;
    const groupEls = groups.map((g) =>
      h(
        'section',
        { class: `group ${g.cls}`, dataset: { group: g.key } },
        h('h2', {}, g.title),
        h('div', { class: 'tiles' }, g.ids.map((id) => this.buildTile(id))),
      ),
    );
    this.statusEl = h('div', { class: 'status', id: 'status' });
    this.barEl = this.buildBar();
    this.logEl = h('ol', { class: 'log', id: 'log' });
    this.wallEl = h(
      'div',
      { class: 'wall', id: 'wall', dataset: { meeting: d.number } },
      h(
        'div',
        { class: 'wall-head' },
        h('a', { href: '#/meetings', class: 'back' }, t('wall.back')),
        h('h1', {}, `${d.number} · ${d.subject}`),
      ),
      this.statusEl,
      this.barEl,
      h(
        'div',
        { class: 'wall-body' },
        h('div', { class: 'groups' }, groupEls),
        h('aside', { class: 'side' }, h('h2', {}, t('log.title')), this.logEl),
      ),
      this.buildDialogs(),
    );
    this.root.replaceChildren(this.wallEl);
    this.update();
    this.renderLog();
  }

  buildTile(id) {
    const el = {};
    const btn = (act, label, body) =>
      h(
        'button',
        {
          type: 'button',
          class: `act ${act}`,
          dataset: { act },
          onclick: (e) => {
            e.stopPropagation();
            this.selected = id;
            this.updateSelection();
            this.cmd(body());
          },
        },
        label,
      );
    el.name = h('span', { class: 'name' }, this.name(id));
    el.badges = h('span', { class: 'badges' });
    el.leg = h('span', { class: 'leg' });
    el.shows = h('div', { class: 'shows' });
    el.mic = h('span', { class: 'mic' });
    el.fill = h('div', { class: 'fill' });
    el.meter = h('div', { class: 'meter', title: t('tile.level'), role: 'meter' }, el.fill);
    el.quality = h('div', { class: 'quality' });
    el.alarm = h('div', { class: 'alarm' });
    el.mute = btn('mute', t('act.mute'), () => ({
      command: this.leg(id)?.muted ? 'unmute' : 'mute',
      venue: id,
    }));
    el.block = btn('block_audio', t('act.block_audio'), () => ({
      command: this.leg(id)?.audio_blocked ? 'unblock_audio' : 'block_audio',
      venue: id,
    }));
    // A venue that was never called, or was hung up on purpose, is dialled; a dropped one redialled.
    const dialable = () => ['idle', 'hung_up', 'failed'].includes(this.leg(id)?.status?.status ?? 'idle');
    el.redial = btn('redial', t('act.redial'), () => ({ command: dialable() ? 'dial' : 'redial', venue: id }));
    el.dialable = dialable;
    el.poll = h('input', {
      type: 'checkbox',
      class: 'poll-pick',
      onchange: (e) => {
        if (e.target.checked) this.pollSet.add(id);
        else this.pollSet.delete(id);
      },
    });
    if (this.pollSet.has(id)) el.poll.checked = true;
    el.root = h(
      'article',
      {
        class: 'tile',
        id: `tile-${id}`,
        tabindex: '0',
        dataset: { venue: id },
        onclick: () => {
          this.selected = id;
          this.updateSelection();
        },
      },
      h('header', {}, el.name, h('span', { class: 'vid' }, id), el.badges),
      h('div', { class: 'line' }, el.leg, el.mic, el.meter),
      el.shows,
      el.quality,
      el.alarm,
      h(
        'div',
        { class: 'actions' },
        this.allowed('broadcast', id) && btn('broadcast', t('act.broadcast'), () => ({ command: 'broadcast', venue: id })),
        this.allowed('view', id) && btn('view', t('act.view'), () => ({ command: 'view', venue: id })),
        this.allowed('roll_call', id) && btn('roll_call', t('act.roll_call'), () => ({ command: 'roll_call', venue: id })),
        this.allowed('mute', id) && el.mute,
        this.allowed('block_audio', id) && el.block,
        this.allowed('hang_up', id) && btn('hang_up', t('act.hang_up'), () => ({ command: 'hang_up', venue: id })),
        this.allowed('redial', id) && el.redial,
        this.allowed('start_polling') && h('label', { class: 'poll', title: t('tile.poll') }, el.poll, 'P'),
      ),
    );
    this.tiles.set(id, el);
    return el.root;
  }

  buildBar() {
    const b = (id, label, onclick, cls = '') => h('button', { type: 'button', id, class: cls, onclick }, label);
    this.intervalEl = h('input', {
      id: 'poll-interval',
      type: 'number',
      min: '1',
      max: '3600',
      value: '10',
      'aria-label': t('bar.poll_interval'),
    });
    this.voiceBtn = b('voice', '', () => this.cmd({ command: 'set_voice_activation', on: !this.conf?.voice?.on }));
    this.lockBtn = b('lock', '', () => this.cmd({ command: this.conf?.locked ? 'unlock' : 'lock' }));
    this.pollBtn = b('poll-start', t('bar.poll_start'), () => this.startPolling());
    this.pauseBtn = b('poll-pause', '', () =>
      this.cmd({ command: this.conf?.polling?.status === 'paused' ? 'resume_polling' : 'pause_polling' }),
    );
    // Only while the meeting is in its joint test (or not yet opened).
    this.liveBtn = b('go-live', t('bar.go_live'), () => this.cmd({ command: 'go_live' }), 'go-live');
    if (this.rights !== 'all') {
      // A role that can send no meeting-wide command gets the shortcut table only.
      return h('div', { class: 'bar', id: 'bar', dataset: { readOnly: 'true' } }, b('help', t('bar.help'), () => this.helpDlg.showModal()));
    }
    return h(
      'div',
      { class: 'bar', id: 'bar' },
      this.liveBtn,
      b('return-main', t('bar.return_main'), () => this.cmd({ command: 'return_to_main' })),
      b('stop-view', t('bar.stop_view'), () => this.cmd({ command: 'stop_view' })),
      b('roll-next', t('bar.roll_next'), () => this.cmd({ command: 'roll_call_next' })),
      b('end-roll', t('bar.end_roll'), () => this.cmd({ command: 'end_roll_call' })),
      b('mute-all', t('bar.mute_all'), () => this.cmd({ command: 'mute_all_but_main' })),
      h(
        'span',
        { class: 'polling-ctl' },
        this.pollBtn,
        h('label', {}, t('bar.poll_interval'), this.intervalEl),
        this.pauseBtn,
        b('poll-stop', t('bar.poll_stop'), () => this.cmd({ command: 'stop_polling' })),
      ),
      this.voiceBtn,
      this.lockBtn,
      b('end-meeting', t('bar.end'), () => this.confirmEnd(), 'danger'),
      b('help', t('bar.help'), () => this.helpDlg.showModal()),
    );
  }

  buildDialogs() {
    this.endDlg = h(
      'dialog',
      { id: 'confirm-end' },
      h('h2', {}, t('confirm.end.title')),
      h('p', {}, t('confirm.end.body')),
      h(
        'div',
        { class: 'dlg-actions' },
        h('button', { type: 'button', id: 'confirm-end-cancel', onclick: () => this.endDlg.close() }, t('confirm.cancel')),
        h(
          'button',
          {
            type: 'button',
            id: 'confirm-end-yes',
            class: 'danger',
            onclick: () => {
              this.endDlg.close();
              this.cmd({ command: 'end_meeting' });
            },
          },
          t('confirm.end.yes'),
        ),
      ),
    );
    const keys = ['select', 'broadcast', 'view', 'roll', 'mute', 'hang', 'poll', 'main', 'voice', 'lock', 'end'];
    this.helpDlg = h(
      'dialog',
      { id: 'help-dialog' },
      h('h2', {}, t('help.title')),
      h('ul', {}, keys.map((k) => h('li', {}, t(`help.${k}`)))),
      h('div', { class: 'dlg-actions' }, h('button', { type: 'button', onclick: () => this.helpDlg.close() }, t('help.close'))),
    );
    return [this.endDlg, this.helpDlg];
  }

  confirmEnd() {
    this.endDlg.showModal();
    document.getElementById('confirm-end-cancel').focus();
  }

  startPolling() {
    const venues = this.order.filter((v) => this.pollSet.has(v));
    if (venues.length === 0) {
      toast(t('poll.need_two'), 'refused');
      return;
    }
    const secs = Math.max(1, Math.min(3600, parseInt(this.intervalEl.value, 10) || 10));
    this.cmd({ command: 'start_polling', venues, interval_secs: secs });
  }

  // ---- updates -----------------------------------------------------------------------------

  update() {
    if (!this.wallEl) return;
    const c = this.conf;
    for (const [id, el] of this.tiles) {
      const l = this.leg(id);
      const status = l?.status?.status ?? this.detail.venues.find((v) => v.name === id)?.leg ?? 'idle';
      const muted = l ? l.muted : !!this.detail.venues.find((v) => v.name === id)?.muted;
      let legText = t(`leg.${status}`);
      if ((status === 'dialing' || status === 'redial_pending') && l.status.attempt) legText += ` #${l.status.attempt}`;
      if (status === 'dropped' && l.status.reason) legText += ` (${l.status.reason})`;
      el.leg.textContent = legText;
      el.leg.className = `leg ${status}`;
      el.root.dataset.leg = status;
      el.root.dataset.muted = String(muted);
      el.mic.textContent = (muted ? t('tile.muted') : t('tile.mic_open')) + (l?.audio_blocked ? ` · ${t('tile.audio_blocked')}` : '');
      el.mic.className = `mic ${muted ? 'muted' : 'open'}`;
      el.mute.textContent = muted ? t('act.unmute') : t('act.mute');
      el.redial.textContent = el.dialable() ? t('act.dial') : t('act.redial');
      const blocked = !!l?.audio_blocked;
      el.root.dataset.audioBlocked = String(blocked);
      el.block.textContent = blocked ? t('act.unblock_audio') : t('act.block_audio');
      el.block.classList.toggle('on', blocked);

      const onAir = this.detail.broadcast === id;
      const viewed = c?.feeds?.chair_view === id;
      const roll = c?.roll_call === id;
      el.root.classList.toggle('on-air', onAir);
      el.root.classList.toggle('viewed', viewed);
      el.root.classList.toggle('roll-call', roll);
      el.root.classList.toggle('speaking', this.dominant === id);
      el.root.dataset.onAir = String(onAir);
      el.badges.replaceChildren(
        ...[
          onAir && h('span', { class: 'badge on-air' }, t('tile.broadcast')),
          viewed && h('span', { class: 'badge viewed' }, t('tile.viewed')),
          roll && h('span', { class: 'badge roll' }, t('tile.roll_call')),
          this.dominant === id && h('span', { class: 'badge speaking' }, t('tile.speaking')),
        ].filter(Boolean),
      );

      if (l?.picture && status === 'connected') {
        const src = c.feeds[l.picture];
        const what = `${t(`feed.${l.picture}`)}${src ? `: ${this.name(src)}` : ''}`;
        el.shows.textContent = t('tile.shows', { what });
        el.root.dataset.shows = src ?? '';
      } else {
        el.shows.textContent = t('none');
        el.root.dataset.shows = '';
      }

      // Figures of a leg that is down are stale: show none.
      const m = status === 'connected' ? this.media.get(id) : undefined;
      el.quality.textContent = m
        ? t('tile.quality', {
            v: m.video_kbps,
            a: m.audio_kbps,
            loss: m.loss_percent.toFixed(1),
            jitter: m.jitter_ms.toFixed(1),
          }) + (m.rtt_ms == null ? '' : t('tile.rtt', { rtt: m.rtt_ms.toFixed(0) }))
        : '';
      const alarms = new Set(this.alarms.get(id) ?? []);
      if (m?.frozen) alarms.add('frozen');
      el.alarm.replaceChildren(
        ...[...alarms].map((a) => h('span', { class: `badge alarm-${a}` }, t(a === 'frozen' ? 'tile.frozen' : 'tile.no_media'))),
      );
      el.root.classList.toggle('alarmed', alarms.size > 0);
      el.root.classList.toggle('poll-current', c?.polling?.status !== 'off' && c?.polling?.venues?.includes(id));
    }
    this.updateMeters();
    this.updateSelection();
    this.updateBar();
    this.updateStatus();
  }

  updateMeters() {
    for (const [id, el] of this.tiles) {
      const up = (this.leg(id)?.status?.status ?? 'connected') === 'connected';
      const l = up ? this.levels.get(id) : undefined;
      // RFC 6464 scale: 0 loudest, 127 silence; the meter shows the top 60 dB.
      const pct = l ? Math.max(0, Math.min(100, ((60 - l.level) / 60) * 100)) : 0;
      el.fill.style.width = `${pct.toFixed(0)}%`;
      el.meter.classList.toggle('voice', !!l?.voice);
      el.meter.setAttribute('aria-valuenow', l ? String(-l.level) : '-127');
    }
  }

  updateSelection() {
    for (const [id, el] of this.tiles) el.root.classList.toggle('selected', id === this.selected);
  }

  updateBar() {
    const c = this.conf;
    if (!c) return;
    this.liveBtn.hidden = !(c.state === 'testing' || c.state === 'scheduled');
    this.voiceBtn.textContent = c.voice.on ? t('bar.voice_on') : t('bar.voice_off');
    this.voiceBtn.classList.toggle('on', c.voice.on);
    this.lockBtn.textContent = c.locked ? t('bar.unlock') : t('bar.lock');
    this.lockBtn.classList.toggle('on', c.locked);
    this.pauseBtn.textContent = c.polling.status === 'paused' ? t('bar.poll_resume') : t('bar.poll_pause');
  }

  updateStatus() {
    if (!this.statusEl || !this.detail) return;
    const c = this.conf;
    const d = this.detail;
    const item = (id, label, value, cls = '') =>
      h('span', { class: `item ${cls}`, id }, h('b', {}, `${label}: `), value);
    const p = c?.polling;
    const pollText =
      p && p.status !== 'off'
        ? t('status.polling_list', {
            status: t(`poll.${p.status}`),
            list: p.venues.map((v) => this.name(v)).join(', '),
            secs: p.interval ? p.interval / 1000 : '?',
          })
        : t('poll.off');
    this.statusEl.replaceChildren(
      item('st-state', t('status.state'), t(`state.${d.state}`), `state ${d.state}`),
      item('st-broadcast', t('status.broadcast'), d.broadcast ? this.name(d.broadcast) : t('none')),
      item('st-view', t('status.view'), c?.feeds?.chair_view ? this.name(c.feeds.chair_view) : t('none')),
      item('st-polling', t('status.polling'), pollText, p?.status ?? 'off'),
      item('st-voice', t('status.voice'), c?.voice?.on ? t('yes') : t('no')),
      item('st-locked', t('status.locked'), c?.locked ? t('yes') : t('no')),
      item('st-chair', t('status.chair'), c?.chair ?? t('none')),
      item(
        'st-ws',
        t('status.live'),
        this.wsOpen ? t('status.ws_open') : d.state === 'ended' || !this.stopEvents ? t('status.ws_none') : t('status.ws_closed'),
        this.wsOpen ? 'ok' : this.stopEvents && d.state !== 'ended' ? 'bad' : '',
      ),
      item('st-switch', t('status.last_switch'), this.lastSwitch == null ? t('none') : `${this.lastSwitch.toFixed(1)} ms`),
    );
    this.wallEl.classList.toggle('ended', d.state === 'ended');
  }

  renderLog() {
    if (!this.logEl) return;
    this.logEl.replaceChildren(
      ...this.log.map((e) => {
        const venue = e.venue ? this.name(e.venue) : '';
        const what = e.auto
          ? t('log.auto', { feed: t(`feed.${e.cmd}`), venue })
          : t('log.sent', { cmd: commandLabel(e.cmd), venue });
        const parts = [h('span', { class: 'what' }, what)];
        if (e.state === 'refused') parts.push(h('span', { class: 'refused' }, t('log.refused', { msg: e.msg })));
        if (e.rtt != null) parts.push(h('span', { class: 'rtt' }, t('log.ok', { ms: e.rtt.toFixed(0) })));
        if (e.latency != null)
          parts.push(
            h(
              'span',
              { class: `latency${e.forced ? ' forced' : ''}` },
              t(e.forced ? 'log.switch_forced' : 'log.switch', { ms: e.latency.toFixed(1) }),
            ),
          );
        return h('li', { class: `${e.state ?? ''}${e.auto ? ' auto' : ''}`, dataset: { cmd: e.cmd, venue: e.venue } }, parts);
      }),
    );
  }

  // ---- keyboard ----------------------------------------------------------------------------

  key(e) {
    if (e.target instanceof HTMLInputElement || e.target instanceof HTMLTextAreaElement) return;
    if (document.querySelector('dialog[open]')) return;
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    const sel = this.selected;
    const idx = this.order.indexOf(sel);
    const k = e.key;
    // Command keys of a role that cannot send them do nothing (their buttons are hidden too).
    if (this.rights !== 'all' && !'123456789?'.includes(k) && !k.startsWith('Arrow')) {
      const cmdOf = { m: this.leg(sel)?.muted ? 'unmute' : 'mute', h: 'hang_up', d: this.tiles.get(sel)?.dialable() ? 'dial' : 'redial' };
      if (!(k in cmdOf) || !this.allowed(cmdOf[k], sel)) return;
    }
    let handled = true;
    if (/^[1-9]$/.test(k) && this.order[Number(k) - 1]) {
      this.selected = this.order[Number(k) - 1];
      this.updateSelection();
    } else if (k === 'ArrowRight' || k === 'ArrowDown') {
      this.selected = this.order[(idx + 1) % this.order.length];
      this.updateSelection();
    } else if (k === 'ArrowLeft' || k === 'ArrowUp') {
      this.selected = this.order[(idx - 1 + this.order.length) % this.order.length];
      this.updateSelection();
    } else if (k === 'b' && sel) this.cmd({ command: 'broadcast', venue: sel });
    else if (k === 'v' && sel) this.cmd({ command: 'view', venue: sel });
    else if (k === 'r' && sel) this.cmd({ command: 'roll_call', venue: sel });
    else if (k === 'n') this.cmd({ command: 'roll_call_next' });
    else if (k === 'm' && sel) this.cmd({ command: this.leg(sel)?.muted ? 'unmute' : 'mute', venue: sel });
    else if (k === 'h' && sel) this.cmd({ command: 'hang_up', venue: sel });
    else if (k === 'd' && sel) this.cmd({ command: this.tiles.get(sel)?.dialable() ? 'dial' : 'redial', venue: sel });
    else if (k === '0') this.cmd({ command: 'return_to_main' });
    else if (k === 'Escape') this.cmd({ command: 'stop_view' });
    else if (k === 'p') {
      if (this.conf?.polling?.status === 'off') this.startPolling();
      else this.cmd({ command: 'stop_polling' });
    } else if (k === ' ') {
      if (this.conf?.polling?.status !== 'off')
        this.cmd({ command: this.conf.polling.status === 'paused' ? 'resume_polling' : 'pause_polling' });
    } else if (k === 'a') this.cmd({ command: 'set_voice_activation', on: !this.conf?.voice?.on });
    else if (k === 'l') this.cmd({ command: this.conf?.locked ? 'unlock' : 'lock' });
    else if (k === 'E' && e.shiftKey) this.confirmEnd();
    else if (k === '?') this.helpDlg.showModal();
    else handled = false;
    if (handled) e.preventDefault();
  }
}
