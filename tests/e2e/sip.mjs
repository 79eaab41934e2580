// The console's wall for a meeting whose venues are real SIP endpoints: sipp UAS processes that
// daisd dialled out to (started by crates/dais-server/tests/console_e2e.rs). Checks every leg
// connected in the hierarchy, a broadcast followed by every tile, and the end of the meeting
// behind its confirmation until every leg is hung up (the Rust test then checks that every
// sipp saw its BYE). The console starts the stored meeting in joint test, then takes it live. Environment: DAIS_URL, DAIS_ADMIN_PW, DAIS_MEETING, DAIS_VENUES (comma
// list, main venue first), DAIS_BROADCAST (a venue), SCREENSHOT_DIR, CHROMIUM.

import { chromium } from 'playwright-core';
import { join } from 'node:path';

const env = (k) => {
  const v = process.env[k];
  if (!v) throw new Error(`${k} is not set`);
  return v;
};
const URL = env('DAIS_URL');
const MEETING = env('DAIS_MEETING');
const VENUES = env('DAIS_VENUES').split(',');
const TARGET = env('DAIS_BROADCAST');
const SHOTS = env('SCREENSHOT_DIR');
const GUARD_MS = 30000;

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const ctx = await browser.newContext({ viewport: { width: 1440, height: 900 } });
const page = await ctx.newPage();
page.setDefaultTimeout(GUARD_MS);
const problems = [];
page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
page.on('console', (m) => {
  if (/Content Security Policy/i.test(m.text())) problems.push(`CSP: ${m.text()}`);
});

async function waitTiles(attr, pred, what) {
  const deadline = Date.now() + GUARD_MS;
  for (;;) {
    const values = {};
    for (const v of VENUES) values[v] = await page.locator(`#tile-${v}`).getAttribute(`data-${attr}`);
    if (VENUES.every((v) => pred(v, values[v]))) return values;
    if (Date.now() > deadline) throw new Error(`never held: ${what}; last ${JSON.stringify(values)}`);
    await page.waitForTimeout(50);
  }
}

await page.goto(URL);
await page.click('#lang'); // English screenshots
await page.fill('#login-user', 'admin');
await page.fill('#login-password', env('DAIS_ADMIN_PW'));
await page.click('#login-submit');
// The meeting is scheduled, not running: the operator starts its joint test from the list.
await page.waitForSelector(`#meeting-list tr[data-meeting="${MEETING}"] .state.scheduled`);
await page.screenshot({ path: join(SHOTS, 'sip-meetings.png'), fullPage: true });
await page.click(`#start-test-${MEETING}`);
await page.waitForSelector('#wall');
await page.waitForSelector('#st-ws.ok');
await waitTiles('leg', (_, l) => l === 'connected', 'every SIP venue connected');
// The venues' real G.711 reaches the mixer: their level meters move.
await page.waitForFunction(() =>
  [...document.querySelectorAll('.tile .meter')].some((m) => Number(m.getAttribute('aria-valuenow')) > -127),
);
// Started in joint test: Go live is offered, and takes the meeting live.
await page.waitForSelector('#st-state.testing');
await page.click('#go-live');
await page.waitForSelector('#st-state.live');
await page.waitForSelector('#go-live', { state: 'hidden' });
const order = await page.$$eval('.tile', (ts) => ts.map((t) => t.dataset.venue));
if (JSON.stringify(order) !== JSON.stringify(VENUES)) throw new Error(`wall order ${order} != ${VENUES}`);

await page.locator(`#tile-${TARGET} button[data-act="broadcast"]`).click();
await waitTiles('on-air', (v, a) => a === String(v === TARGET), `${TARGET} alone on air`);
await waitTiles('shows', (v, s) => v === TARGET || s === TARGET, `every tile shows ${TARGET}`);
// Audio-only venues: no picture cut-over to time, the command's round trip is logged.
await page.locator(`#log li[data-cmd="broadcast"][data-venue="${TARGET}"] .rtt`).first().waitFor();
await page.screenshot({ path: join(SHOTS, 'sip-wall.png'), fullPage: true });

await page.locator('body').press('Shift+E');
await page.waitForSelector('#confirm-end[open]');
await page.click('#confirm-end-yes');
await page.waitForSelector('#st-state.ended');
await waitTiles('leg', (_, l) => l === 'hung_up', 'every SIP leg hung up');
if (problems.length) throw new Error(problems.join(' | '));
await browser.close();
console.log(JSON.stringify({ ok: true }));
