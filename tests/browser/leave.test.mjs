// Closing a page makes its node leave at once (a keepalive DELETE), and its
// neighbour's edge labels follow. The relay's node TTL is ten minutes here,
// so only the DELETE can make the labels change within the test.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { startRelay, getJson } from './support/relay.mjs';
import { launchBrowser } from './support/browser.mjs';
import { openPlay, nodeOf, labels, waitForLabels } from './support/play.mjs';

const relay = await startRelay(['--node-ttl-ms', '600000']);
const browser = await launchBrowser();
after(async () => {
  await browser.close();
  await relay.stop();
});

test('closing a page updates its neighbour labels', async () => {
  const a = await openPlay(browser, relay.master, 'leave', 'alice');
  const b = await openPlay(browser, relay.master, 'leave', 'bob');
  const [nodeA, nodeB] = [await nodeOf(a), await nodeOf(b)];
  await waitForLabels(a, { left: nodeB, right: nodeB });
  assert.equal((await getJson(`${relay.master}/v1/stats`)).nodes, 2);

  await b.context().close();
  await waitForLabels(a, { left: nodeA, right: nodeA, up: nodeA, down: nodeA });
  const shown = await labels(a);
  assert.equal(shown.left.text, 'alice (you)');
  assert.equal((await getJson(`${relay.master}/v1/stats`)).nodes, 1);
  assert.deepEqual(a.errors, []);
});
