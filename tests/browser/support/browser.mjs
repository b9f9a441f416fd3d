// Debian's chromium driven by playwright-core, headless and with a fresh
// profile, for the browser tests. There is no fallback: without the browser
// or the npm package the tests fail and say why (they never skip).
//
// Every page's script errors and console errors fail the test that opened
// it; screenshots go to the artefacts folder ctest names (else
// build/tests/artifacts).
import { chromium } from 'playwright-core';
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const CHROMIUM = process.env.SPRITES_CHROMIUM || '/usr/bin/chromium';
export const ARTIFACTS = process.env.SPRITES_ARTIFACTS || path.join(repo, 'build/tests/artifacts');

export const VIEWPORT = { width: 960, height: 640 };

// With `ignoreCertificateErrors`, https pages whose certificate no system CA
// signed (the TLS test's relay) load like any other.
export async function launchBrowser({ ignoreCertificateErrors = false } = {}) {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    // No sandbox as root; no background traffic to the closed network.
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
           '--disable-component-update', '--disable-sync',
           ...(ignoreCertificateErrors ? ['--ignore-certificate-errors'] : [])],
  });
}

// A page in its own browser context (its own window, storage and
// connections), at `url`. page.errors collects what went wrong in it.
export async function openPage(browser, url) {
  const context = await browser.newContext({ viewport: VIEWPORT });
  const page = await context.newPage();
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    // A refused throw or poll is logged by chromium as "Failed to load
    // resource"; the tests check those answers themselves.
    if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) {
      page.errors.push(`console error: ${m.text()}`);
    }
  });
  await page.goto(url);
  return page;
}

export async function screenshot(page, name) {
  mkdirSync(ARTIFACTS, { recursive: true });
  const file = path.join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path: file });
  return file;
}
