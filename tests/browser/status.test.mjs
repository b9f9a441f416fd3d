// The status page at / shows the relay's figures: its node count is what
// /v1/stats says, and it moves when a browser node joins.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { startRelay, getJson } from './support/relay.mjs';
import { launchBrowser, openPage, screenshot } from './support/browser.mjs';
import { openPlay, WAIT_MS } from './support/play.mjs';

const ADMIN_TOKEN = 'op-3fH9xQ2mLk7Vw8Rt';
const relay = await startRelay();
const guarded = await startRelay(['--admin-port', '0', '--admin-token', ADMIN_TOKEN]);
const browser = await launchBrowser();
after(async () => {
  await browser.close();
  await relay.stop();
  await guarded.stop();
});

const shownNodes = (page) => page.locator('#nodes').textContent();

test('the status page node count matches the stats and moves when a page joins', async () => {
  const status = await openPage(browser, `${relay.master}/`);
  await status.waitForFunction(() => document.getElementById('nodes').textContent === '0', null, { timeout: WAIT_MS });
  assert.equal((await getJson(`${relay.master}/v1/stats`)).nodes, 0);

  const play = await openPlay(browser, relay.master, 'status', 'alice');
  await status.waitForFunction(() => document.getElementById('nodes').textContent === '1', null, { timeout: WAIT_MS });
  assert.equal((await getJson(`${relay.master}/v1/stats`)).nodes, 1);
  assert.equal(await shownNodes(status), '1');
  assert.equal(await status.locator('#workers').textContent(), '1');
  await screenshot(status, 'status');
  assert.deepEqual([...status.errors, ...play.errors], []);
});

test('on an admin port with a token the status page shows the figures given the token in its address', async () => {
  const without = await openPage(browser, `${guarded.admin}/`);
  await without.waitForFunction(() => /admin token/.test(document.getElementById('state').textContent), null,
                                { timeout: WAIT_MS });
  assert.equal(await shownNodes(without), '–');

  await openPlay(browser, guarded.master, 'status', 'bob');
  const status = await openPage(browser, `${guarded.admin}/#token=${ADMIN_TOKEN}`);
  await status.waitForFunction(() => document.getElementById('nodes').textContent === '1', null, { timeout: WAIT_MS });
  assert.deepEqual(status.errors, []);
});
