// Driving the browser node page (/play) from a test: open it and wait until
// it has joined, read its edge labels, fling one of its sprites.
//
// The page's state is read through window.play (web/play.js), which the
// page exposes for exactly this; what a person sees is checked through the
// DOM and the canvas.
import { openPage } from './browser.mjs';

export const WAIT_MS = 20000;  // a guard on each wait, never a delay

// A /play page of `master` in `group`, named `name`, once it has joined.
export async function openPlay(browser, master, group, name) {
  const page = await openPage(browser, `${master}/play?group=${encodeURIComponent(group)}&name=${encodeURIComponent(name)}`);
  try {
    await page.waitForFunction(() => window.play && window.play.session.node && window.play.neighbors, null,
                               { timeout: WAIT_MS });
  } catch (e) {
    const said = await page.evaluate(() => document.getElementById('status').textContent).catch(() => '?');
    throw new Error(`the page did not join: ${e.message}; it says "${said}"; ${page.errors.join('; ')}`);
  }
  return page;
}

export const nodeOf = (page) => page.evaluate(() => window.play.session.node);

// {left: {node, text}, ...}: what the four edge labels show.
export function labels(page) {
  return page.evaluate(() => Object.fromEntries(['left', 'right', 'up', 'down'].map((d) => {
    const el = document.getElementById(`edge-${d}`);
    return [d, { node: el.dataset.node, text: el.querySelector('.who').textContent }];
  })));
}

// Waits until the page's edge labels name `expected` ({left: nodeId, ...}).
export async function waitForLabels(page, expected) {
  await page.waitForFunction((want) => Object.entries(want).every(
    ([d, node]) => document.getElementById(`edge-${d}`).dataset.node === node), expected, { timeout: WAIT_MS });
}

// Grabs the page's sprite number `index` with the mouse a little behind its
// centre and drags it quickly towards the right edge until its centre is
// over it: the page lets it go that way whatever the speed of the move (a
// loaded machine makes a slow fling). Returns where the sprite was.
export async function flingRight(page, index) {
  const { x, y, width } = await page.evaluate((i) => {
    const s = window.play.field.sprites[i];
    return { x: s.x, y: s.y, width: window.play.field.width };
  }, index);
  await page.mouse.move(x - 20, y);
  await page.mouse.down();
  await page.mouse.move(width - 10, y, { steps: 8 });
  await page.mouse.up();
  return { x, y };
}

// Waits until the page has `count` answered throws; returns them.
export async function throwsAnswered(page, count) {
  await page.waitForFunction((n) => window.play.throws.length >= n, count, { timeout: WAIT_MS });
  return page.evaluate(() => window.play.throws);
}
