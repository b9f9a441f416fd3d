// The status page at / shows the relay's figures: its node count is what
// /v1/stats says, and it moves when a browser node joins.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { startRelay, getJson } from './support/relay.mjs';
import { launchBrowser, openPage, screenshot } from './support/browser.mjs';
import { openPlay, WAIT_MS } from './support/play.mjs';

const relay = await startRelay();
const browser = await launchBrowser();
after(async () => {
  await browser.close();
  await relay.stop();
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
