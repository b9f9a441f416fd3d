// A sprite whose receiver leaves before reading it comes back to the page
// as a `returned` event and flies back in through the edge it left by. The
// receiver is a node the test joined itself: it never polls, then leaves.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { startRelay } from './support/relay.mjs';
import { launchBrowser } from './support/browser.mjs';
import { openPlay, waitForLabels, flingRight, throwsAnswered, WAIT_MS } from './support/play.mjs';

const relay = await startRelay();
const browser = await launchBrowser();
after(async () => {
  await browser.close();
  await relay.stop();
});

test('a sprite its receiver never read comes back in through the edge it left by', async () => {
  const a = await openPlay(browser, relay.master, 'returned', 'alice');
  const joined = await fetch(`${relay.master}/v1/nodes`, {
    method: 'POST',
    body: JSON.stringify({ group: 'returned', name: 'rock' }),
  });
  const rock = await joined.json();
  await waitForLabels(a, { right: rock.node });

  const from = await flingRight(a, 0);
  const [thrown] = await throwsAnswered(a, 1);
  assert.equal(thrown.ok, true, JSON.stringify(thrown));
  assert.equal(await a.evaluate(() => window.play.field.sprites.length), 0);

  const left = await fetch(`${relay.master}/v1/nodes/${rock.node}`, {
    method: 'DELETE',
    headers: { Authorization: `Bearer ${rock.token}` },
  });
  assert.equal(left.status, 204);
  await a.waitForFunction(() => window.play.returned.length === 1, null, { timeout: WAIT_MS });
  const [back] = await a.evaluate(() => window.play.returned);
  assert.equal(back.id, thrown.id);
  assert.equal(back.direction, 'right');
  assert.equal(back.to.node, rock.node);
  const width = await a.evaluate(() => window.play.field.width);
  assert.equal(back.x, width, 'comes back in at the right edge');
  assert.ok(Math.abs(back.y - from.y) < 1, `back at ${back.y}, left at ${from.y}`);
  const sprites = await a.evaluate(() => window.play.field.sprites.map(({ kind, vx }) => ({ kind, vx })));
  assert.equal(sprites.length, 1);
  assert.equal(sprites[0].kind, 'slime');
  assert.ok(sprites[0].vx < 0, 'flying back in, to the left');
  assert.match(await a.locator('#notice').textContent(), /rock left before catching your slime/);
  assert.deepEqual(a.errors, []);
});
