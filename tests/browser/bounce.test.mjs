// A throw the relay refuses makes the sprite bounce back into the page with
// a notice that says why. The neighbour here is a node the test joined
// itself and never polls, on a relay whose mailboxes hold one event: the
// first sprite fills its mailbox, the second is refused with 429.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { startRelay } from './support/relay.mjs';
import { launchBrowser, screenshot } from './support/browser.mjs';
import { openPlay, nodeOf, waitForLabels, flingRight, throwsAnswered, WAIT_MS } from './support/play.mjs';

const relay = await startRelay(['--mailbox-limit', '1']);
const browser = await launchBrowser();
after(async () => {
  await browser.close();
  await relay.stop();
});

test('a throw answered 429 bounces back with a notice', async () => {
  const a = await openPlay(browser, relay.master, 'bounce', 'alice');
  const joined = await fetch(`${relay.master}/v1/nodes`, {
    method: 'POST',
    body: JSON.stringify({ group: 'bounce', name: 'rock' }),
  });
  assert.equal(joined.status, 201);
  const rock = (await joined.json()).node;
  await waitForLabels(a, { right: rock });

  await flingRight(a, 0);
  const [first] = await throwsAnswered(a, 1);
  assert.equal(first.ok, true, JSON.stringify(first));
  assert.equal(first.to.node, rock);

  // Another sprite from the shelf, flung the same way.
  await a.click('#shelf', { position: { x: 40, y: 40 } });
  await a.waitForFunction(() => window.play.field.sprites.length === 1, null, { timeout: WAIT_MS });
  await flingRight(a, 0);
  const [, second] = await throwsAnswered(a, 2);
  assert.equal(second.ok, false);
  assert.equal(second.status, 429);
  assert.equal(second.error, 'mailbox_full');

  // Still on A, flying back left, and the notice says why.
  const sprite = await a.evaluate(() => window.play.field.sprites.map(({ state, vx, x }) => ({ state, vx, x })));
  assert.equal(sprite.length, 1);
  assert.equal(sprite[0].state, 'free');
  assert.ok(sprite[0].vx < 0, JSON.stringify(sprite));
  const notice = a.locator('#notice');
  assert.equal(await notice.isVisible(), true);
  const text = await notice.textContent();
  assert.match(text, /right edge/);
  assert.match(text, /429 mailbox_full/);
  await screenshot(a, 'play-bounce');
  assert.deepEqual(a.errors, []);
});
