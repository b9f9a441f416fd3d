// Two browser nodes in one group: each names the other at its left and
// right edges (a row of two wraps around), a sprite flung out of A's right
// edge enters B from its left edge at the same height, moving right.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { startRelay } from './support/relay.mjs';
import { launchBrowser, screenshot } from './support/browser.mjs';
import { openPlay, nodeOf, labels, waitForLabels, flingRight, throwsAnswered, WAIT_MS } from './support/play.mjs';

const relay = await startRelay();
const browser = await launchBrowser();
after(async () => {
  await browser.close();
  await relay.stop();
});

test('a sprite flung out of one page enters its right neighbour from the left at the same height', async () => {
  const a = await openPlay(browser, relay.master, 'fling', 'alice');
  const b = await openPlay(browser, relay.master, 'fling', 'bob');
  const [nodeA, nodeB] = [await nodeOf(a), await nodeOf(b)];

  // A row of two: left and right are the other page, up and down the page itself.
  await waitForLabels(a, { left: nodeB, right: nodeB, up: nodeA, down: nodeA });
  await waitForLabels(b, { left: nodeA, right: nodeA, up: nodeB, down: nodeB });
  const shownB = await labels(b);
  assert.equal(shownB.left.text, 'alice');
  assert.equal(shownB.right.text, 'alice');
  assert.equal(shownB.up.text, 'bob (you)');

  const from = await flingRight(a, 0);
  const [thrown] = await throwsAnswered(a, 1);
  assert.equal(thrown.ok, true, JSON.stringify(thrown));
  assert.equal(thrown.direction, 'right');
  assert.equal(thrown.to.node, nodeB);
  assert.ok(thrown.vx > 0 && thrown.vy === 0, JSON.stringify(thrown));
  const heightA = await a.evaluate(() => window.play.field.height);
  assert.ok(Math.abs(thrown.at * heightA - from.y) < 1, `left A at ${thrown.at * heightA}, flung at ${from.y}`);
  // It is gone from A once B has it.
  assert.equal(await a.evaluate(() => window.play.field.sprites.length), 0);

  await b.waitForFunction(() => window.play.entries.length === 1, null, { timeout: WAIT_MS });
  const [entered] = await b.evaluate(() => window.play.entries);
  assert.equal(entered.from.node, nodeA);
  assert.equal(entered.from.name, 'alice');
  assert.equal(entered.direction, 'right');
  assert.equal(entered.x, 0, 'enters at the left edge');
  const heightB = await b.evaluate(() => window.play.field.height);
  assert.ok(Math.abs(entered.y - from.y * heightB / heightA) < 1, `entered at ${entered.y}, left at ${from.y}`);
  assert.equal(entered.vx, thrown.vx);
  const onB = await b.evaluate(() => window.play.field.sprites.map((s) => s.kind));
  assert.deepEqual(onB.sort(), ['slime', 'slime']);  // B's own and A's

  // Let the sprite fly in a little before the picture.
  await b.waitForFunction(() => window.play.field.sprites.some((s) => s.x > 30), null, { timeout: WAIT_MS });
  await screenshot(a, 'play-alice');
  await screenshot(b, 'play-bob');
  assert.deepEqual([...a.errors, ...b.errors], []);
});
