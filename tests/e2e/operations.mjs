// End-to-end test of the console's operations screens in Debian's headless Chromium, driven
// by playwright-core. Run by crates/dais-server/tests/console_e2e.rs
// (`the_console_files_a_booking_and_runs_the_operations_screens`) against a real `daisd` whose
// store holds venues province, jinan and weihai (weihai's monthly check overdue), accounts
// chair1 (chair operator), head1 / itc1 / leader1 (the three approval stages), auditor1, and
// site jinan with slot A held by jinan-a and slot B vacant. Environment:
//   DAIS_URL, DAIS_ADMIN_PW, DAIS_PW (every other account's password), SCREENSHOT_DIR, CHROMIUM
// Prints one JSON line `{"ok":true,"booking":<id>,"meeting":"<number>"}` on success; exits
// non-zero on the first failed check, with the reason on stderr.

import { chromium } from 'playwright-core';
import { mkdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const URL = need('DAIS_URL');
const ADMIN_PW = need('DAIS_ADMIN_PW');
const PW = need('DAIS_PW');
const SHOTS = need('SCREENSHOT_DIR');
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
  args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});

const problems = [];
const shot = (page, name) => page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });

/** A fresh browser profile logged in as `user`, in English (the table's other language). */
async function as(user, pw = PW) {
  const ctx = await browser.newContext({ viewport: { width: 1440, height: 900 } });
  const page = await ctx.newPage();
  page.setDefaultTimeout(GUARD_MS);
  page.on('pageerror', (e) => problems.push(`${user}: page error: ${e.message}`));
  page.on('console', (m) => {
    const text = m.text();
    if (m.type() === 'error' && !/status of 40[0139]/.test(text)) problems.push(`${user}: console error: ${text}`);
    if (/Content Security Policy/i.test(text)) problems.push(`${user}: CSP: ${text}`);
  });
  await page.goto(URL);
  await page.click('#lang');
  await page.fill('#login-user', user);
  await page.fill('#login-password', pw);
  await page.click('#login-submit');
  await page.waitForSelector('#who');
  await page.waitForSelector('main .meetings');
  return page;
}

/** The ids of the screen links in the top bar. */
const nav = (page) => page.$$eval('.top a[id^="nav-"]', (as) => as.map((a) => a.id.slice(4)));

async function open(page, screen) {
  // What is on screen now is stale: wait for the screen rendered after this click, not an
  // earlier render of the same screen that has not been replaced yet.
  await page.evaluate(() => document.querySelectorAll('#main [id]').forEach((e) => e.setAttribute('data-stale', '1')));
  await page.click(`#nav-${screen}`);
  await page.waitForSelector(`#${screen}:not([data-stale])`);
}

const out = { ok: false };

// ---- the applicant files a booking ------------------------------------------------------------
const chair = await as('chair1');
check(
  JSON.stringify(await nav(chair)) === JSON.stringify(['meetings', 'bookings']),
  `a chair operator's screens: ${await nav(chair)}`,
);
await open(chair, 'bookings');
check((await chair.locator('#booking-list tr.empty').count()) === 1, 'no bookings yet');
const rooms = await chair.$$eval('#bk-room option', (os) => os.map((o) => o.value));
check(rooms.length > 0, 'the room catalogue fills the room list');
async function fillForm() {
  await chair.fill('#bk-unit', 'Provincial flood office');
  await chair.fill('#bk-subject', 'Flood season briefing');
  await chair.fill('#bk-attendees', 'city flood office heads');
  await chair.fill('#bk-count', '24');
  await chair.selectOption('#bk-room', rooms[0]);
  await chair.selectOption('#bk-main', 'province');
  await chair.check('.bk-venue[value="jinan"]');
  await chair.check('.bk-venue[value="weihai"]');
  await chair.fill('#bk-chair', 'chair1');
}
await fillForm();
await chair.click('#bk-submit');
const row = chair.locator('#booking-list tr[data-booking]');
await row.first().waitFor();
check((await row.count()) === 1, 'one booking listed');
const booking = Number(await row.first().getAttribute('data-booking'));
out.booking = booking;
check((await row.first().getAttribute('data-status')) === 'pending_unit_head', 'waits for the unit head');
check((await row.first().locator('.bk-status').textContent()) === 'waiting for the unit head', 'stage shown');
const venuesText = await row.first().locator('td').nth(4).textContent();
check(
  venuesText.startsWith('province, ') && venuesText.includes('jinan') && venuesText.includes('weihai'),
  `venues, main first: ${venuesText}`,
);
await shot(chair, 'bookings');
// Filed: the form is empty again. The same room at the same time again is refused with the
// clash named, and the form keeps what was typed.
check((await chair.inputValue('#bk-subject')) === '', 'the form is cleared after filing');
await fillForm();
await chair.click('#bk-submit');
await chair.waitForSelector('#bk-error:not(:empty)');
check((await chair.textContent('#bk-error')).includes('409'), `clash refused: ${await chair.textContent('#bk-error')}`);
check((await chair.inputValue('#bk-subject')) === 'Flood season briefing', 'the form keeps what was typed');

// ---- the three approvers, in order -------------------------------------------------------------
const stages = [
  ['head1', 'pending_it_centre', 'waiting for the IT centre'],
  ['itc1', 'pending_department_leader', 'waiting for the department leader'],
  ['leader1', 'approved', 'approved: meeting scheduled'],
];
for (const [i, [user, next, label]] of stages.entries()) {
  const ap = await as(user);
  const screens = await nav(ap);
  check(
    JSON.stringify(screens) === JSON.stringify(['meetings', 'bookings', 'inbox']),
    `an approver's screens: ${screens}`,
  );
  // Approvers read bookings but do not file them: no form.
  await open(ap, 'bookings');
  await ap.waitForSelector(`#booking-list tr[data-booking="${booking}"]`);
  check((await ap.locator('#booking-form').count()) === 0, `${user} sees no application form`);
  await open(ap, 'inbox');
  const mine = ap.locator(`#inbox-list tr[data-booking="${booking}"]`);
  await mine.waitFor();
  // The next stage's approver does not see it before this one decides.
  if (i === 0) await shot(ap, 'inbox');
  await mine.locator('input.opinion').fill(`agreed by ${user}`);
  await mine.locator('button.approve').click();
  await ap.waitForSelector(`#inbox-list tr[data-booking="${booking}"]`, { state: 'detached' });
  check((await ap.locator('#inbox-list tr.empty').count()) === 1, `${user}'s inbox is empty after deciding`);
  // The applicant sees the stage move on.
  await chair.click('#nav-meetings');
  await open(chair, 'bookings');
  // Waits for the re-rendered list: the previous one can still be on screen for a moment.
  const r = chair.locator(`#booking-list tr[data-booking="${booking}"][data-status="${next}"]`);
  try {
    await r.waitFor({ timeout: 10000 });
  } catch {
    const now = await chair.locator(`#booking-list tr[data-booking="${booking}"]`).getAttribute('data-status');
    check(false, `after ${user}: ${now}`);
  }
  check((await r.locator('.bk-status').textContent()) === label, `stage label after ${user}`);
  check((await r.locator('.opinions li').count()) === i + 1, `${i + 1} opinions shown`);
  check((await r.locator('.opinions li').last().textContent()).includes(`agreed by ${user}`), 'the opinion text shown');
  await ap.context().close();
}
const done = chair.locator(`#booking-list tr[data-booking="${booking}"]`);
const number = (await done.locator('.bk-meeting').textContent()).trim();
check(/^\d+$/.test(number), `the approval scheduled a meeting: ${number}`);
out.meeting = number;
await shot(chair, 'booking-approved');
// ... and it is in the meeting list, scheduled, which the chair can start.
await chair.click('#nav-meetings');
await chair.waitForSelector(`#meeting-list tr[data-meeting="${number}"]`);
check(
  (await chair.textContent(`#meeting-list tr[data-meeting="${number}"] .state`)) === 'scheduled',
  'the booked meeting is scheduled',
);
check((await chair.locator(`#start-live-${number}`).count()) === 1, 'the chair may start it');

// ---- the IT centre: A/B registry ----------------------------------------------------------------
const admin = await as('admin', ADMIN_PW);
check(
  JSON.stringify(await nav(admin)) === JSON.stringify(['meetings', 'bookings', 'inbox', 'sites', 'equipment', 'recordings']),
  `the IT centre's screens: ${await nav(admin)}`,
);
await open(admin, 'sites');
const jinan = admin.locator('#site-list tr[data-site="jinan"]');
check((await jinan.getAttribute('data-vacant')) === 'true', 'jinan has a vacant slot');
check((await jinan.locator('td[data-slot="b"] .holder').textContent()) === 'vacant', 'slot B shown vacant');
check((await jinan.locator('td[data-slot="a"] .holder').textContent()) === 'jinan-a', 'slot A holder');
check((await admin.locator('#history-list tbody tr').count()) === 1, 'one change so far');
await shot(admin, 'sites');
await jinan.locator('td[data-slot="b"] .slot-operator').fill('jinan-b');
await jinan.locator('td[data-slot="b"] .slot-reason').selectOption('appointment');
await jinan.locator('td[data-slot="b"] .slot-note').fill('order 12');
await jinan.locator('td[data-slot="b"] .slot-save').click();
await admin.waitForSelector('#site-list tr[data-site="jinan"][data-vacant="false"]');
await admin.waitForFunction(() => document.querySelectorAll('#history-list tbody tr').length === 2);
const hist = await admin.$$eval('#history-list tbody tr', (rs) => rs.map((r) => [...r.cells].map((c) => c.textContent)));
check(hist[1][0] === 'B' && hist[1][2] === 'jinan-b' && hist[1][3] === 'appointment' && hist[1][4] === 'order 12', `history: ${JSON.stringify(hist)}`);
// Replacing a holder needs a reason other than appointment: the server's refusal is shown.
await jinan.locator('td[data-slot="a"] .slot-operator').fill('');
await jinan.locator('td[data-slot="a"] .slot-reason').selectOption('appointment');
await jinan.locator('td[data-slot="a"] .slot-save').click();
await admin.waitForSelector('#toast.show.refused');
await admin.waitForSelector('#site-list tr[data-site="jinan"][data-vacant="false"]');

// ---- equipment: an overdue check, a fault moved on -------------------------------------------
await open(admin, 'equipment');
const weihai = admin.locator('#due-list tr[data-venue="weihai"]');
check((await weihai.getAttribute('data-overdue')) === 'true', 'weihai is overdue');
check((await admin.locator('#due-list tr[data-venue]').count()) === 1, 'only weihai is due');
await admin.fill('#fault-venue', 'weihai');
await admin.fill('#fault-desc', 'echo at the far end');
await admin.click('#fault-form button[type="submit"]');
const fault = admin.locator('#fault-list tr[data-fault]');
await fault.first().waitFor();
check((await fault.first().getAttribute('data-status')) === 'open', 'a reported fault is open');
await shot(admin, 'equipment');
await fault.first().locator('button[data-next="in_repair"]').click();
await admin.waitForSelector('#fault-list tr[data-fault][data-status="in_repair"]');
check((await admin.locator('#fault-list tr[data-fault] button[data-next="in_repair"]').count()) === 0, 'in repair: no way back offered');
await weihai.locator('.check-notes').fill('camera, codec, microphones');
await weihai.locator('.check-record').click();
await admin.waitForSelector('#due-list tr[data-venue="weihai"]', { state: 'detached' });
check((await admin.locator('#due-list tr.empty').count()) === 1, 'nothing due after the check');

// ---- recordings: the list with its columns; release requested, decided, downloaded ----------
await open(admin, 'recordings');
const cols = await admin.$$eval('#recording-list th', (ths) => ths.map((th) => th.dataset.col));
check(
  JSON.stringify(cols) === JSON.stringify(['rec.id', 'rec.meeting', 'rec.started', 'rec.ended', 'rec.size', 'rec.sha', '']),
  `recording columns: ${cols}`,
);
const rec = admin.locator('#recording-list tr[data-recording="1"]');
check((await rec.locator('td').nth(1).textContent()) === '7001', 'the kept recording of meeting 7001 listed');

// ---- hidden, not just refused -------------------------------------------------------------------
const aud = await as('auditor1');
// The auditor asks for the recording; no decision and no download offered to them yet.
await open(aud, 'recordings');
await aud.locator('#recording-list tr[data-recording="1"] .rec-open').click();
await aud.waitForSelector('#recording-detail');
check((await aud.locator('#release-list tr.empty').count()) === 1, 'no release requests yet');
await aud.fill('#rel-reason', 'inspection of the 7001 minutes');
await aud.click('#release-form button[type="submit"]');
await aud.waitForSelector('#release-list tr[data-release][data-state="requested"]');
check((await aud.locator('#release-list button').count()) === 0, 'the requester can neither decide nor download yet');
// The IT centre decides; it is not the requester, so it gets no download.
await rec.locator('.rec-open').click();
const req = admin.locator('#release-list tr[data-release][data-state="requested"]');
await req.waitFor();
await shot(admin, 'recordings');
await req.locator('button.approve').click();
await admin.waitForSelector('#release-list tr[data-release][data-state="approved"]');
check((await admin.locator('#release-list button.download').count()) === 0, 'no download for the approver');
// The requester now has the download, and gets the file.
await aud.locator('#recording-list tr[data-recording="1"] .rec-open').click();
await aud.waitForSelector('#release-list tr[data-release][data-state="approved"] button.download');
const [dl] = await Promise.all([aud.waitForEvent('download'), aud.click('#release-list button.download')]);
const saved = join(tmpdir(), `dais-e2e-download-${process.pid}.mkv`);
await dl.saveAs(saved);
check(statSync(saved).size === Number(need('DAIS_RECORDING_SIZE')), `downloaded ${statSync(saved).size} bytes`);
rmSync(saved);
check(dl.suggestedFilename() === 'meeting-7001-1.mkv', `download name ${dl.suggestedFilename()}`);

check(
  JSON.stringify(await nav(aud)) === JSON.stringify(['meetings', 'bookings', 'sites', 'equipment', 'recordings']),
  `an auditor's screens: ${await nav(aud)}`,
);
await open(aud, 'bookings');
check((await aud.locator('#booking-form').count()) === 0, 'an auditor files nothing');
await open(aud, 'sites');
await aud.waitForSelector('#site-list tr[data-site="jinan"]');
check((await aud.locator('.slot-edit, #site-form').count()) === 0, 'an auditor edits no slot');
await open(aud, 'equipment');
check((await aud.locator('#fault-form, #fault-list button, #due-list button').count()) === 0, 'an auditor changes no equipment');
check((await aud.locator('#fault-list tr[data-status="in_repair"]').count()) === 1, 'an auditor reads the faults');
// A screen the role has no link to is still refused by the server when opened by hand.
await chair.goto(`${URL}/#/sites`);
await chair.waitForSelector('#toast.show.error');
check((await chair.textContent('#toast')).includes('403'), 'the server refuses the chair the registry');

// The translation table stays complete with the new screens' labels.
const missing = await chair.evaluate(async () => {
  const { _table } = await import('/console/i18n.js');
  const langs = Object.keys(_table);
  const all = new Set(langs.flatMap((l) => Object.keys(_table[l])));
  return langs.flatMap((l) => [...all].filter((k) => !(k in _table[l])).map((k) => `${l}:${k}`));
});
check(missing.length === 0, `labels missing from a language: ${missing.join(', ')}`);
// Every screen in Chinese: no label left as its key.
await admin.click('#lang');
for (const s of ['inbox', 'sites', 'equipment', 'recordings', 'bookings']) {
  await open(admin, s);
  const raw = await admin.evaluate(() => document.body.innerText.match(/\b(bk|site|rec|eq|inbox|fault|reason|stage|top)\.[a-z_.]+/g));
  check(!raw, `untranslated keys on ${s}: ${raw}`);
}
await shot(admin, 'bookings-zh');

check(problems.length === 0, `no script errors or CSP violations: ${problems.join(' | ')}`);
await browser.close();
out.ok = true;
console.log(JSON.stringify(out));
