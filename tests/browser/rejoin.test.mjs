// A page outlives a crash of its relay's master: its poll fails, it backs
// off and polls again, the restarted master (which lost every node) answers
// 404 unknown_node, and the page joins again as a new node.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { startRelay, childrenNamed } from './support/relay.mjs';
import { launchBrowser } from './support/browser.mjs';
import { openPlay, nodeOf, waitForLabels, WAIT_MS } from './support/play.mjs';

const relay = await startRelay();
const browser = await launchBrowser();
after(async () => {
  await browser.close();
  await relay.stop();
});

test('a page joins again after its master crashed and lost its node', async () => {
  const a = await openPlay(browser, relay.master, 'rejoin', 'alice');
  const before = await nodeOf(a);
  const masters = childrenNamed(relay.pid, 'sprites-master');
  assert.equal(masters.length, 1);
  process.kill(masters[0], 'SIGKILL');

  await a.waitForFunction((old) => window.play.session.node && window.play.session.node !== old, before,
                          { timeout: WAIT_MS });
  const after = await nodeOf(a);
  await waitForLabels(a, { left: after, right: after, up: after, down: after });
  const statusText = await a.locator('#status').textContent();
  assert.equal(statusText, `joined as ${after}`);
  const log = await a.evaluate(() => window.play.statuses);
  assert.ok(log.some((s) => /joining again/.test(s)), JSON.stringify(log));
  assert.deepEqual(a.errors, []);
});
