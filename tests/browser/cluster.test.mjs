// The browser node on a cluster of three relays (one NATS server): two
// pages that joined at different relays are neighbours in one grid and a
// sprite flung out of one enters the other; a poll sent to a relay that is
// not the node's home follows the 307 to it.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { startRelay, startNats, getJson } from './support/relay.mjs';
import { launchBrowser, openPage, screenshot } from './support/browser.mjs';
import { openPlay, nodeOf, waitForLabels, flingRight, throwsAnswered, WAIT_MS } from './support/play.mjs';

const nats = await startNats();
const relays = [];
for (const id of ['ra', 'rb', 'rc']) relays.push(await startRelay(['--nats', nats.url, '--relay-id', id]));
const browser = await launchBrowser();
after(async () => {
  await browser.close();
  for (const r of relays) await r.stop();
  await nats.stop();
});

// Every relay lists all three as live.
async function settled() {
  const deadline = Date.now() + WAIT_MS;
  for (const r of relays) {
    for (;;) {
      const cluster = await getJson(`${r.master}/v1/cluster`);
      if (cluster.relays.length === relays.length) break;
      if (Date.now() > deadline) throw new Error(`relay ${r.relayId} sees ${JSON.stringify(cluster)}`);
      await new Promise((resolve) => setTimeout(resolve, 50));  // a poll of the relay's view, not a wait for time
    }
  }
}

async function join(master, group, name) {
  const res = await fetch(`${master}/v1/nodes`, { method: 'POST', body: JSON.stringify({ group, name }) });
  assert.equal(res.status, 201);
  return res.json();
}

test('two pages joined at different relays are neighbours and a fling crosses', async () => {
  await settled();
  const [ra, rb] = relays;
  const a = await openPlay(browser, ra.master, 'across', 'alice');
  const b = await openPlay(browser, rb.master, 'across', 'bob');
  const [nodeA, nodeB] = [await nodeOf(a), await nodeOf(b)];
  assert.ok(nodeA.startsWith('ra-') && nodeB.startsWith('rb-'), `${nodeA} ${nodeB}`);
  // Each polls its own home and throws to its home's worker port.
  assert.equal(await a.evaluate(() => window.play.session.worker), ra.worker);
  assert.equal(await b.evaluate(() => window.play.session.home), rb.master);

  await waitForLabels(a, { left: nodeB, right: nodeB, up: nodeA, down: nodeA });
  await waitForLabels(b, { left: nodeA, right: nodeA, up: nodeB, down: nodeB });

  const from = await flingRight(a, 0);
  const [thrown] = await throwsAnswered(a, 1);
  assert.equal(thrown.ok, true, JSON.stringify(thrown));
  assert.equal(thrown.to.node, nodeB);
  await b.waitForFunction(() => window.play.entries.length === 1, null, { timeout: WAIT_MS });
  const [entered] = await b.evaluate(() => window.play.entries);
  assert.equal(entered.from.node, nodeA);
  assert.equal(entered.x, 0);
  assert.ok(Math.abs(entered.y - from.y) < 1, `entered at ${entered.y}, left at ${from.y}`);
  await b.waitForFunction(() => window.play.field.sprites.some((s) => s.x > 30), null, { timeout: WAIT_MS });
  await screenshot(a, 'cluster-alice');
  await screenshot(b, 'cluster-bob');

  // The status page of one relay lists all three, with the nodes each holds.
  const status = await openPage(browser, `${rb.master}/`);
  await status.waitForFunction(() => document.querySelectorAll('#relays tr').length === 3, null, { timeout: WAIT_MS });
  const rows = await status.evaluate(() => Array.from(document.querySelectorAll('#relays tr'),
    (tr) => Array.from(tr.children, (td) => td.textContent)));
  const byId = Object.fromEntries(rows.map((r) => [r[0], r]));
  assert.deepEqual(Object.keys(byId).sort(), ['ra', 'rb', 'rc']);
  assert.equal(byId.ra[1], ra.master);
  assert.equal(byId.rb[2], rb.worker);
  assert.ok(Number(byId.ra[3]) >= 1 && Number(byId.rb[3]) >= 1, JSON.stringify(rows));
  assert.match(await status.locator('#cluster-title').textContent(), /3 relays; this is rb/);
  await screenshot(status, 'cluster-status');
  assert.deepEqual([...a.errors, ...b.errors, ...status.errors], []);
});

test('a poll sent to a relay that is not the node home follows the 307 there', async () => {
  await settled();
  const [ra, rb, rc] = relays;
  // n lives at ra and has an event waiting (m's join changed its neighbours).
  const n = await join(ra.master, 'redirect', 'n');
  await join(rb.master, 'redirect', 'm');
  const page = await openPlay(browser, rc.master, 'elsewhere', 'carol');
  const result = await page.evaluate(async ({ node, token, wait }) => {
    const { NodeSession } = await import('/web/node_session.js');
    const events = [];
    const s = new NodeSession({
      master: location.origin, group: 'redirect', name: 'n',
      on: { joined() {}, event: (e) => events.push(e), status() {} },
    });
    Object.assign(s, { node, token, home: location.origin });
    s.pollLoop(s.generation);
    const deadline = Date.now() + wait;
    while (events.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    s.stopped = true;
    s.abort.abort();
    return { home: s.home, redirects: s.redirects, events };
  }, { node: n.node, token: n.token, wait: WAIT_MS });
  assert.equal(result.home, ra.master);
  assert.ok(result.redirects >= 1);
  assert.equal(result.events.length, 1, JSON.stringify(result.events));
  assert.equal(result.events[0].type, 'neighbors');
  assert.deepEqual(page.errors, []);
});
