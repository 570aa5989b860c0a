// Shared helpers for Entitle's browser checks: the system Chromium through
// playwright-core (no browser download), and screenshots.
import fs from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';

/** Debian's Chromium, overridable with CHROMIUM. */
export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

/** Flags that run headless Chromium here (root, no GPU, no background traffic). */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/**
 * A Playwright browser on the system Chromium. playwright-core gives it a
 * fresh user data directory of its own and removes it on close.
 */
export async function launch(options = {}) {
  if (!fs.existsSync(CHROMIUM)) {
    throw new Error(
      `no Chromium at ${CHROMIUM}: install it (apt-get install -y chromium) or set CHROMIUM`,
    );
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    ...options,
  });
}

/** Where screenshots go: $SCREENSHOT_DIR, or null when it is not set. */
export function screenshotDir() {
  const dir = process.env.SCREENSHOT_DIR;
  if (!dir) return null;
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}

/**
 * Saves a full-page screenshot of `page` as `<SCREENSHOT_DIR>/<name>.png`
 * when SCREENSHOT_DIR is set; returns the path, or null.
 */
export async function screenshot(page, name) {
  const dir = screenshotDir();
  if (!dir) return null;
  const file = path.join(dir, `${name.replace(/[^A-Za-z0-9._-]+/g, '-')}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

/** Whether a URL points at this machine (127.0.0.0/8, ::1, localhost). */
export function isLoopback(url) {
  let u;
  try {
    u = new URL(url);
  } catch {
    return false;
  }
  if (u.protocol === 'data:' || u.protocol === 'blob:' || u.protocol === 'about:') return true;
  const host = u.hostname.replace(/^\[|\]$/g, '');
  return host === 'localhost' || host === '::1' || /^127(\.\d{1,3}){3}$/.test(host);
}

/** Prints one step line. */
export function step(message) {
  console.log(`[graphiql] ${message}`);
}

/** A step that did not hold: reported by its message alone. */
export class StepError extends Error {}

export function fail(message) {
  throw new StepError(message);
}

/** Saves `<dir>/failure.png` of the page as it was when a step failed. */
export async function screenshotFailure(page, dir, tag) {
  if (!page) return;
  const file = path.join(dir, 'failure.png');
  await page.screenshot({ path: file, fullPage: true }).then(
    () => console.error(`${tag} screenshot of the failure: ${file} (at ${page.url()})`),
    () => {},
  );
}

/**
 * Runs a test script's `main` within `totalMs`: prints how many steps
 * passed (`steps()`), or the failing step and exits 1.
 */
export function runSteps(tag, totalMs, main, steps) {
  const timer = setTimeout(() => {
    console.error(`${tag} FAIL: the whole run took over ${totalMs / 1000} s`);
    process.exit(1);
  }, totalMs);
  main().then(
    () => {
      clearTimeout(timer);
      console.log(`${tag} ok: ${steps()} steps passed`);
    },
    (e) => {
      clearTimeout(timer);
      console.error(`${tag} FAIL at step ${steps() + 1}: ${e instanceof StepError ? e.message : e.stack || e}`);
      process.exit(1);
    },
  );
}
