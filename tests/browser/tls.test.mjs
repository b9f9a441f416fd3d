// The pages over TLS: a relay with a certificate serves / and /play over
// https, and two browser nodes join, poll and throw over https (the page
// throws to the https:// worker URL of the join answer). The certificate is
// made at test time; the browser is told to accept it.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { startRelay, makeCertificate } from './support/relay.mjs';
import { launchBrowser } from './support/browser.mjs';
import { openPlay, nodeOf, waitForLabels, flingRight, throwsAnswered, WAIT_MS } from './support/play.mjs';

const certificate = makeCertificate();
const relay = await startRelay(['--tls-cert', certificate.cert, '--tls-key', certificate.key]);
const browser = await launchBrowser({ ignoreCertificateErrors: true });
after(async () => {
  await browser.close();
  await relay.stop();
  rmSync(certificate.dir, { recursive: true, force: true });
});

test('two pages served over https play over https', async () => {
  assert.match(relay.master, /^https:\/\//);
  const a = await openPlay(browser, relay.master, 'tls', 'alice');
  const b = await openPlay(browser, relay.master, 'tls', 'bob');
  assert.equal(new URL(a.url()).protocol, 'https:');
  const [nodeA, nodeB] = [await nodeOf(a), await nodeOf(b)];
  await waitForLabels(a, { left: nodeB, right: nodeB, up: nodeA, down: nodeA });

  await flingRight(a, 0);
  const [thrown] = await throwsAnswered(a, 1);
  assert.equal(thrown.ok, true, JSON.stringify(thrown));
  assert.equal(thrown.to.node, nodeB);
  await b.waitForFunction(() => window.play.entries.length === 1, null, { timeout: WAIT_MS });
  const [entered] = await b.evaluate(() => window.play.entries);
  assert.equal(entered.from.node, nodeA);
  assert.deepEqual([...a.errors, ...b.errors], []);
});
