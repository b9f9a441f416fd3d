// The three scalers of the browser node draw the expected pixels: the page's
// shelf shows each built-in sprite at 4x with the chosen scaler, and every
// pixel of it is compared with a reference the test computes with its own
// code (support/reference_scalers.mjs) from the sprite's 16x16 source.
//
// Canvas pixels are kept premultiplied by alpha, so a half-transparent pixel
// may come back with its colour off by up to 255 / alpha / 2: those compare
// within that bound, opaque and transparent ones exactly.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { startRelay } from './support/relay.mjs';
import { launchBrowser, screenshot } from './support/browser.mjs';
import { openPlay } from './support/play.mjs';
import { referenceScalers, fromRgba } from './support/reference_scalers.mjs';

const relay = await startRelay();
const browser = await launchBrowser();
after(async () => {
  await browser.close();
  await relay.stop();
});

const SHOWN = 64, GAP = 8;

function mismatches(got, want) {
  let bad = 0;
  const first = [];
  want.px.forEach((w, i) => {
    const g = got.px[i];
    const slack = w[3] === 255 || w[3] === 0 ? 0 : Math.ceil(255 / w[3] / 2) + 1;
    const ok = g[3] === w[3] && (w[3] === 0 || [0, 1, 2].every((c) => Math.abs(g[c] - w[c]) <= slack));
    if (!ok) {
      bad++;
      if (first.length < 3) first.push({ at: i, got: g, want: w });
    }
  });
  return { bad, first };
}

test('nearest, epx and hq2x draw the reference pixels of every built-in sprite', async () => {
  const page = await openPlay(browser, relay.master, 'scalers', 'painter');
  const sources = await page.evaluate(async () => {
    const { SPRITES, decode } = await import('/web/sprites.js');
    return SPRITES.map((s) => ({ kind: s.kind, data: Array.from(decode(s, 0).data) }));
  });
  assert.ok(sources.length >= 3);
  const drawn = {};
  for (const scaler of ['nearest', 'epx', 'hq2x']) {
    await page.selectOption('#scaler', scaler);
    drawn[scaler] = await page.evaluate(({ n, shown, gap }) => {
      const ctx = document.getElementById('shelf').getContext('2d');
      return Array.from({ length: n }, (_, i) => Array.from(ctx.getImageData(gap + i * (shown + gap), gap, shown, shown).data));
    }, { n: sources.length, shown: SHOWN, gap: GAP });
    await screenshot(page, `play-scaler-${scaler}`);
    sources.forEach((source, i) => {
      const step = referenceScalers[scaler];
      const want = step(step(fromRgba(16, 16, source.data)));
      const got = fromRgba(SHOWN, SHOWN, drawn[scaler][i]);
      const { bad, first } = mismatches(got, want);
      assert.equal(bad, 0, `${scaler} ${source.kind}: ${bad} pixels differ, e.g. ${JSON.stringify(first)}`);
    });
  }
  // The three are different pictures of the same sprites.
  for (const [x, y] of [['nearest', 'epx'], ['nearest', 'hq2x'], ['epx', 'hq2x']]) {
    sources.forEach((source, i) => {
      assert.notDeepEqual(drawn[x][i], drawn[y][i], `${x} and ${y} drew ${source.kind} alike`);
    });
  }
  assert.deepEqual(page.errors, []);
});
