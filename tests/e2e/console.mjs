// End-to-end test of the web console in Debian's headless Chromium, driven by playwright-core.
//
// Run by crates/dais-server/tests/console_e2e.rs against a real `daisd --demo` (meeting 8000,
// six simulated venues sending RTP). Environment:
//   DAIS_URL          http://127.0.0.1:PORT
//   DAIS_ADMIN_PW     the admin account's password
//   DAIS_AUDITOR      an auditor account's name (password DAIS_AUDITOR_PW): no command rights
//   DAIS_OUTSIDER     a site administrator of a site not in the meeting (same password)
//   DAIS_OTHER_CHAIR  a chair operator who does not chair the demo meeting (same password)
//   DAIS_SITE_ADMIN   a site administrator of site jinan, in the demo meeting (same password)
//   SCREENSHOT_DIR    where the screenshots go (docs/screenshots)
//   CHROMIUM          the browser (default /usr/bin/chromium)
// Prints one JSON line `{"ok":true,...measurements}` on success; exits non-zero on the first
// failed check, with the reason on stderr.

import { chromium } from 'playwright-core';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

const URL = need('DAIS_URL');
const ADMIN_PW = need('DAIS_ADMIN_PW');
const AUDITOR = need('DAIS_AUDITOR');
const AUDITOR_PW = need('DAIS_AUDITOR_PW');
const SHOTS = need('SCREENSHOT_DIR');
const MEETING = '8000';
const VENUES = ['province', 'jinan', 'qingdao', 'licheng', 'laoshan', 'survey-institute'];
// A hang guard for each wait, never a timing assertion.
const GUARD_MS = 30000;

function need(k) {
  const v = process.env[k];
  if (!v) throw new Error(`${k} is not set`);
  return v;
}

function check(cond, what) {
  if (!cond) throw new Error(`check failed: ${what}`);
}

mkdirSync(SHOTS, { recursive: true });

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: [
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
  ],
});

const problems = [];
async function newPage() {
  const ctx = await browser.newContext({ viewport: { width: 1440, height: 960 } });
  const page = await ctx.newPage();
  page.setDefaultTimeout(GUARD_MS);
  // A CSP violation or a script error is a failure even when the screen looks right.
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    const text = m.text();
    if (m.type() === 'error' && !/status of 40[139]/.test(text)) problems.push(`console error: ${text}`);
    if (/Content Security Policy/i.test(text)) problems.push(`CSP: ${text}`);
  });
  return page;
}

const shot = (page, name) => page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
const tile = (page, v) => page.locator(`#tile-${v}`);

async function login(page, user, pw) {
  await page.goto(URL);
  await page.fill('#login-user', user);
  await page.fill('#login-password', pw);
  await page.click('#login-submit');
  await page.waitForSelector(`#meeting-list tr[data-meeting="${MEETING}"]`);
}

async function openWall(page) {
  await page.click(`#open-${MEETING}`);
  await page.waitForSelector('#wall');
  await page.waitForSelector('#st-ws.ok');
}

/** Waits until every tile's attribute satisfies `pred(venue, value)`. */
async function waitTiles(page, attr, pred, what) {
  const deadline = Date.now() + GUARD_MS;
  for (;;) {
    const values = {};
    for (const v of VENUES) values[v] = await tile(page, v).getAttribute(`data-${attr}`);
    if (VENUES.every((v) => pred(v, values[v]))) return values;
    if (Date.now() > deadline) throw new Error(`never held: ${what}; last ${JSON.stringify(values)}`);
    await page.waitForTimeout(50);
  }
}

const out = { ok: false };
const page = await newPage();

// ---- log in (the page opens in the configured default language, Chinese) -----------------
await page.goto(URL);
await page.waitForSelector('#login-form');
check((await page.textContent('#login-submit')) === '登录', 'the login page is in Chinese by default');
check((await page.getAttribute('html', 'lang')) === 'zh', 'html lang is zh');
check(!(await page.textContent('#top')).includes('null'), 'the logged-out top bar has no stray "null"');
await shot(page, 'login-zh');
await page.fill('#login-user', 'admin');
await page.fill('#login-password', 'wrong password');
await page.click('#login-submit');
await page.waitForSelector('#login-error:not(:empty)');
await page.fill('#login-password', ADMIN_PW);
await page.click('#login-submit');
await page.waitForSelector(`#meeting-list tr[data-meeting="${MEETING}"]`);
// The translation table: every language has every label.
const missing = await page.evaluate(async () => {
  const { _table } = await import('/console/i18n.js');
  const langs = Object.keys(_table);
  const all = new Set(langs.flatMap((l) => Object.keys(_table[l])));
  return langs.flatMap((l) => [...all].filter((k) => !(k in _table[l])).map((k) => `${l}:${k}`));
});
check(missing.length === 0, `labels missing from a language: ${missing.join(', ')}`);
// The rest in English, the other language of the table.
await page.click('#lang');
await page.waitForSelector('#meeting-list');
check((await page.textContent('#logout')) === 'Log out', 'switched to English');
await shot(page, 'meetings');

// ---- the wall: every venue connected, laid out in the hierarchy ---------------------------
await openWall(page);
await waitTiles(page, 'leg', (_, l) => l === 'connected', 'every demo venue connected');
const groups = await page.$$eval('.group', (gs) =>
  gs.map((g) => ({ key: g.dataset.group, venues: [...g.querySelectorAll('.tile')].map((t) => t.dataset.venue) })),
);
check(
  JSON.stringify(groups) ===
    JSON.stringify([
      { key: 'main', venues: ['province'] },
      { key: 'city-jinan', venues: ['jinan', 'licheng'] },
      { key: 'city-qingdao', venues: ['qingdao', 'laoshan'] },
      { key: 'units', venues: ['survey-institute'] },
    ]),
  `hierarchy layout: ${JSON.stringify(groups)}`,
);
check((await tile(page, 'province').getAttribute('data-on-air')) === 'true', 'the main venue is on air at start');
// Media figures from the event stream's media_stats (every few seconds).
await page.waitForFunction(() => document.querySelector('#tile-jinan .quality')?.textContent.includes('kb/s'));
// Audio level meters move with the stream's audio_levels (the simulated venues send audio).
await page.waitForFunction(() =>
  [...document.querySelectorAll('.tile .meter')].some((m) => Number(m.getAttribute('aria-valuenow')) > -127),
);
await shot(page, 'wall');

// ---- broadcast one venue: every tile follows -----------------------------------------------
async function broadcastBy(action, venue) {
  await action();
  await waitTiles(page, 'on-air', (v, a) => a === String(v === venue), `${venue} alone on air`);
  // Every other connected venue now shows the broadcast of `venue`.
  await waitTiles(page, 'shows', (v, s) => v === venue || s === venue, `every tile shows ${venue}`);
  const latency = page.locator(`#log li[data-cmd="broadcast"][data-venue="${venue}"] .latency`).first();
  await latency.waitFor();
  return parseFloat((await latency.textContent()).replace(/[^0-9.]/g, ''));
}
out.broadcast_jinan_ms = await broadcastBy(
  () => tile(page, 'jinan').locator('button[data-act="broadcast"]').click(),
  'jinan',
);
check((await page.textContent('#st-broadcast')).includes('Jinan city'), 'status line names the broadcast');
await shot(page, 'broadcast');

// By keyboard: 4 selects the fourth tile in wall order (qingdao), B broadcasts it.
await page.locator('body').press('4');
await page.locator('body').press('b');
out.broadcast_qingdao_key_ms = await broadcastBy(async () => {}, 'qingdao');

// Chair view: V on the selected venue; the tile is marked.
await page.locator('body').press('2');
await page.locator('body').press('v');
await page.waitForSelector('#tile-jinan.viewed');
await page.locator('body').press('Escape');
await page.waitForSelector('#tile-jinan:not(.viewed)');

// Roll call: R on the selected venue puts it on air and marks it; End roll call clears it.
await page.locator('body').press('5');
await page.locator('body').press('r');
await page.waitForSelector('#tile-laoshan.roll-call[data-on-air="true"]');
await page.click('#end-roll');
await page.waitForSelector('#tile-laoshan.roll-call', { state: 'detached' });

// ---- mute and unmute -----------------------------------------------------------------------
await tile(page, 'licheng').locator('button[data-act="mute"]').click();
await page.waitForSelector('#tile-licheng[data-muted="true"]');
check((await tile(page, 'licheng').locator('.mic').textContent()) === 'muted', 'mute shown');
await shot(page, 'muted');
await tile(page, 'licheng').click();
await page.locator('body').press('m');
await page.waitForSelector('#tile-licheng[data-muted="false"]');

// Stop sending the meeting's audio to a venue, and send it again.
await tile(page, 'qingdao').locator('button[data-act="block_audio"]').click();
await page.waitForSelector('#tile-qingdao[data-audio-blocked="true"]');
await tile(page, 'qingdao').locator('button[data-act="block_audio"]').click();
await page.waitForSelector('#tile-qingdao[data-audio-blocked="false"]');

// ---- polling -------------------------------------------------------------------------------
await tile(page, 'jinan').locator('.poll-pick').check();
await tile(page, 'laoshan').locator('.poll-pick').check();
await page.fill('#poll-interval', '1');
await page.click('#poll-start');
await page.waitForSelector('#st-polling.running');
// Polling broadcasts the list in turn: see both on air, by the stream's shown events.
for (const v of ['jinan', 'laoshan', 'jinan']) {
  await page.waitForSelector(`#tile-${v}[data-on-air="true"]`);
}
await page.waitForSelector('#log li.auto .latency');
await shot(page, 'polling');
await page.click('#poll-stop');
await page.waitForSelector('#st-polling.off');

// ---- voice activation and lock --------------------------------------------------------------
await page.click('#voice');
await page.waitForFunction(() => document.querySelector('#st-voice')?.textContent.endsWith('yes'));
await page.click('#voice');
await page.waitForFunction(() => document.querySelector('#st-voice')?.textContent.endsWith('no'));
await page.locator('body').press('l');
await page.waitForFunction(() => document.querySelector('#st-locked')?.textContent.endsWith('yes'));
await page.click('#lock');
await page.waitForFunction(() => document.querySelector('#st-locked')?.textContent.endsWith('no'));

// ---- hang up a venue, then call it again -------------------------------------------------
await tile(page, 'survey-institute').locator('button[data-act="hang_up"]').click();
await page.waitForSelector('#tile-survey-institute[data-leg="hung_up"]');
check((await tile(page, 'survey-institute').locator('button[data-act="redial"]').textContent()) === 'Dial', 'a hung-up venue offers Dial');
await tile(page, 'survey-institute').locator('button[data-act="redial"]').click();
await page.waitForSelector('#tile-survey-institute[data-leg="connected"]');

// ---- the same wall in Chinese ---------------------------------------------------------------
await page.click('#lang');
await page.waitForSelector('#wall');
check((await page.textContent('#end-meeting')) === '结束会议…', 'wall in Chinese');
await shot(page, 'wall-zh');
await page.click('#lang');
await page.waitForSelector('#wall');

// ---- an auditor sees no controls; a chair operator who does not chair it is refused ----------
const aud = await newPage();
await aud.goto(URL);
await aud.click('#lang'); // English (the choice is per browser profile; a new context starts in zh)
await login(aud, AUDITOR, AUDITOR_PW);
check((await aud.textContent('#who')).includes('Auditor'), 'auditor role shown');
await openWall(aud);
// Hidden, not only refused: no command on any tile, nothing but the shortcut table in the bar.
check((await aud.locator('.tile button[data-act], .tile .poll-pick').count()) === 0, 'an auditor sees no tile commands');
check((await aud.locator('#bar button').count()) === 1 && (await aud.locator('#bar #help').count()) === 1, 'an auditor\'s bar is read-only');
check((await aud.locator('#end-meeting').count()) === 0, 'no end meeting for an auditor');
await tile(aud, 'laoshan').click();
await aud.locator('body').press('h');
await aud.locator('body').press('b');
check((await aud.locator('#log li:not(.auto)').count()) === 0, 'command keys send nothing for an auditor');

// A chair operator may command meetings, so the controls are shown; this meeting's chair is
// someone else, so the server refuses, and the console says so.
const other = await newPage();
await other.goto(URL);
await other.click('#lang');
await login(other, need('DAIS_OTHER_CHAIR'), AUDITOR_PW);
await openWall(other);
const before = await tile(other, 'laoshan').getAttribute('data-on-air');
await tile(other, 'laoshan').locator('button[data-act="broadcast"]').click();
await other.waitForSelector('#toast.show.refused');
check((await other.textContent('#toast')).includes('403'), 'refusal names 403');
await other.waitForSelector('#log li.refused[data-cmd="broadcast"][data-venue="laoshan"]');
await shot(other, 'refused');
await tile(other, 'laoshan').click();
await other.locator('body').press('h');
await other.waitForSelector('#log li.refused[data-cmd="hang_up"][data-venue="laoshan"]');
check((await tile(other, 'laoshan').getAttribute('data-on-air')) === before, 'refused broadcast changed nothing');
check((await tile(other, 'laoshan').getAttribute('data-leg')) === 'connected', 'refused hang-up changed nothing');

// A site administrator of a site in the meeting: mute, hang up and redial on their own venue
// only, and they work; nothing on the other tiles, a read-only bar.
const site = await newPage();
await site.goto(URL);
await site.click('#lang');
await login(site, need('DAIS_SITE_ADMIN'), AUDITOR_PW);
await openWall(site);
const acts = await site.$$eval('.tile', (ts) => ts.map((t) => [t.dataset.venue, [...t.querySelectorAll('button[data-act]')].map((b) => b.dataset.act)]));
check(
  JSON.stringify(acts.filter(([, a]) => a.length)) === JSON.stringify([['jinan', ['mute', 'hang_up', 'redial']]]),
  `a site administrator's controls: ${JSON.stringify(acts)}`,
);
check((await site.locator('#bar button').count()) === 1, 'a site administrator\'s bar is read-only');
await tile(site, 'jinan').locator('button[data-act="mute"]').click();
await site.waitForSelector('#tile-jinan[data-muted="true"]');
await tile(site, 'jinan').locator('button[data-act="mute"]').click();
await site.waitForSelector('#tile-jinan[data-muted="false"]');
await site.context().close();

// Every switch latency the console showed (commands and polling), and the command round trips.
out.switch_latencies_ms = await page.$$eval('#log .latency', (els) => els.map((e) => parseFloat(e.textContent.replace(/[^0-9.]/g, ''))));
out.command_round_trips_ms = await page.$$eval('#log .rtt', (els) => els.map((e) => parseFloat(e.textContent.replace(/[^0-9.]/g, ''))));

// ---- a site administrator whose site is not in the meeting does not see it ----------------
const outsider = await newPage();
await outsider.goto(URL);
await outsider.fill('#login-user', need('DAIS_OUTSIDER'));
await outsider.fill('#login-password', AUDITOR_PW);
await outsider.click('#login-submit');
await outsider.waitForSelector('main .meetings');
check((await outsider.locator('#meeting-list').count()) === 0, 'an outside site admin sees no meeting');
await outsider.goto(`${URL}/#/meeting/${MEETING}`);
await outsider.waitForSelector('#toast.show.error');
check((await outsider.textContent('#toast')).includes('403'), 'opening the wall directly is refused with 403');
check((await outsider.locator('#wall').count()) === 0, 'no wall for an outside site admin');

// ---- end the meeting: confirmation first, then every leg drops ------------------------------
await page.click('#end-meeting');
await page.waitForSelector('#confirm-end[open]');
await shot(page, 'confirm-end');
await page.click('#confirm-end-cancel');
await page.waitForSelector('#confirm-end[open]', { state: 'detached' });
check((await page.getAttribute('#st-state', 'class')).includes('live'), 'cancel keeps the meeting live');
await page.locator('body').press('Shift+E');
await page.waitForSelector('#confirm-end[open]');
await page.click('#confirm-end-yes');
await page.waitForSelector('#st-state.ended');
await waitTiles(page, 'leg', (_, l) => l === 'hung_up' || l === 'dropped', 'every leg down');
// The auditor's wall, on its own stream, follows too.
await aud.waitForSelector('#st-state.ended');
await shot(page, 'ended');

// The shortcut table opens with ?; logging out ends the session and guards the wall.
await page.locator('body').press('?');
await page.waitForSelector('#help-dialog[open]');
check((await page.locator('#help-dialog li').count()) >= 10, 'shortcut table listed');
await page.keyboard.press('Escape');
await page.waitForSelector('#help-dialog[open]', { state: 'detached' });

// The meeting record timeline: the joins, the commands given above (with who gave them) and
// the end, readable from the meeting list; the auditor may read it too.
await page.goto(`${URL}/#/meeting/${MEETING}/record`);
await page.waitForSelector('#record tbody tr[data-kind="command"]');
const kinds = await page.$$eval('#record tbody tr', (rows) => rows.map((r) => r.dataset.kind));
check(kinds.includes('joined'), `record has joins: ${kinds.join(',')}`);
check(kinds.includes('shown'), 'record has picture changes');
check(kinds.includes('state_changed'), 'record has the state changes (the end among them)');
const whoGave = await page.$$eval('#record tbody tr[data-kind="command"] td:nth-child(2)', (c) => c.map((x) => x.textContent));
check(whoGave.includes('admin'), `commands are attributed: ${whoGave.join(',')}`);
out.record_entries = kinds.length;
await shot(page, 'record');
await aud.goto(`${URL}/#/meeting/${MEETING}/record`);
await aud.waitForSelector('#record tbody tr[data-kind="joined"]');

await page.click('#logout');
await page.waitForSelector('#login-form');
await page.goto(`${URL}/#/meeting/${MEETING}`);
await page.waitForSelector('#login-form');

check(problems.length === 0, `no script errors or CSP violations: ${problems.join(' | ')}`);
await browser.close();
out.ok = true;
console.log(JSON.stringify(out));
