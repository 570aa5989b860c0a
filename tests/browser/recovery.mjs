// End-to-end test of account recovery in the example app (examples/web), in
// the system Chromium (lib.mjs): sign up, follow the verification link from
// Entitle's mail, sign out, "Forgot your password?", follow the reset link,
// set a new password, see the same link refused a second time, the old
// password refused and the new one accepted. The links are read from the
// mails Entitle writes to its mail directory, as a developer would open them.
//
// It starts no server. Environment:
//   APP_URL         where examples/web/dist is served (index.html for every
//                   unknown path, /config.json = {"entitleUrl": …, "testHooks": true});
//                   Entitle's ENTITLE_APP_URL, so the mails link here
//   ENTITLE_URL     Entitle's base URL (ENTITLE_CORS_ORIGINS = APP_URL's origin)
//   MAIL_DIR        Entitle's ENTITLE_MAIL_DIR (no SMTP configured)
//   SCREENSHOT_DIR  where NN-name.png go (default: a new temporary folder)
//   CHROMIUM        the browser (default /usr/bin/chromium)
//   STEP_TIMEOUT_MS bound on each wait (default 20000)
//
// Requests to hosts that are not loopback are blocked and fail the test.
// Exits 0 when every step passed, 1 otherwise.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CHROMIUM_ARGS, fail, isLoopback, launch, runSteps, screenshotFailure } from './lib.mjs';

const TAG = '[recovery]';
const STEP_TIMEOUT = Number(process.env.STEP_TIMEOUT_MS || 20_000);
const TOTAL_TIMEOUT = 180_000;
const ARGS = [...CHROMIUM_ARGS, '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1'];


function env(name) {
  const value = process.env[name];
  if (!value) fail(`${name} is not set (see the header of tests/browser/recovery.mjs)`);
  return value.replace(/\/+$/, '');
}

let stepNo = 0;
function step(message, shotFile = null) {
  stepNo += 1;
  console.log(`${TAG} ${String(stepNo).padStart(2, '0')} ${message}${shotFile ? `  [${path.basename(shotFile)}]` : ''}`);
}

/** Quoted-printable undone: soft line breaks joined, =XX bytes restored. */
function unquote(text) {
  const joined = text.replace(/=\r?\n/g, '');
  return Buffer.from(
    joined.replace(/=([0-9A-F]{2})/g, (_, hex) => String.fromCharCode(parseInt(hex, 16))),
    'latin1',
  ).toString('utf8');
}

/**
 * The first link to `${appUrl}${route}?token=` in a mail to `email` that is
 * not in `seen`; waits for the outbox to write it.
 */
async function linkInMail(mailDir, email, appUrl, route, seen) {
  const prefix = `${appUrl}${route}?token=`;
  const deadline = Date.now() + STEP_TIMEOUT;
  while (Date.now() < deadline) {
    const files = fs.existsSync(mailDir) ? fs.readdirSync(mailDir).filter((f) => f.endsWith('.eml')) : [];
    for (const file of files) {
      if (seen.has(file)) continue;
      const mail = unquote(fs.readFileSync(path.join(mailDir, file), 'utf8'));
      const to = /^To: *(.*)$/im.exec(mail)?.[1] ?? '';
      const at = mail.indexOf(prefix);
      if (!to.includes(email) || at < 0) continue;
      seen.add(file);
      const token = /^[A-Za-z0-9_-]+/.exec(mail.slice(at + prefix.length))?.[0];
      if (!token) fail(`${file}: a ${route} link without a token`);
      return `${prefix}${token}`;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  fail(`no mail to ${email} with a ${prefix}… link in ${mailDir} after ${STEP_TIMEOUT} ms`);
}

async function main() {
  const APP_URL = env('APP_URL');
  const ENTITLE_URL = env('ENTITLE_URL');
  const MAIL_DIR = env('MAIL_DIR');
  for (const [name, url] of Object.entries({ APP_URL, ENTITLE_URL })) {
    if (!isLoopback(url)) fail(`${name}=${url} is not a loopback URL`);
  }
  const shotDir = process.env.SCREENSHOT_DIR || fs.mkdtempSync(path.join(os.tmpdir(), 'entitle-recovery-'));
  fs.mkdirSync(shotDir, { recursive: true });

  const browser = await launch({ args: ARGS });
  const blocked = [];
  const pageErrors = [];
  let page = null;
  try {
    const context = await browser.newContext({ viewport: { width: 1100, height: 800 } });
    context.setDefaultTimeout(STEP_TIMEOUT);
    context.setDefaultNavigationTimeout(STEP_TIMEOUT);
    await context.route('**/*', (route) => {
      const url = route.request().url();
      if (isLoopback(url)) return route.continue();
      blocked.push(url);
      return route.abort('blockedbyclient');
    });
    page = await context.newPage();
    page.on('pageerror', (e) => pageErrors.push(String(e)));

    let shotNo = 0;
    const shot = async (name) => {
      shotNo += 1;
      const file = path.join(shotDir, `${String(shotNo).padStart(2, '0')}-${name}.png`);
      await page.screenshot({ path: file, fullPage: true });
      return file;
    };
    const byTestId = (id) => page.getByTestId(id);
    const visible = async (id, what) => {
      try {
        await byTestId(id).first().waitFor({ state: 'visible' });
      } catch {
        const alerts = await page.locator('[role=alert]').allInnerTexts();
        fail(`${what}: [data-testid=${id}] never showed${alerts.length ? `; on the page: ${alerts.join(' | ')}` : ''} (at ${page.url()})`);
      }
    };
    const attr = async (id, name, expected, what) => {
      try {
        await page.locator(`[data-testid="${id}"][${name}="${expected}"]`).first().waitFor({ state: 'attached' });
      } catch {
        const loc = byTestId(id);
        const now = (await loc.count()) ? await loc.first().getAttribute(name) : '(absent)';
        fail(`${what}: expected [data-testid=${id}] ${name}="${expected}", got "${now}"`);
      }
    };
    const signIn = async (email, password) => {
      await page.goto(`${APP_URL}/signin`);
      await byTestId('signin-form').waitFor();
      await byTestId('email-input').fill(email);
      await byTestId('password-input').fill(password);
      await byTestId('auth-submit').click();
    };
    const seen = new Set();

    // --- 1. sign up: not verified yet ----------------------------------------
    const email = `recovery-${Date.now()}-${Math.floor(Math.random() * 1e6)}@example.com`;
    const oldPassword = 'correct horse battery staple';
    const newPassword = 'a new and better passphrase';
    await page.goto(`${APP_URL}/signup`);
    await byTestId('signup-form').waitFor();
    await byTestId('email-input').fill(email);
    await byTestId('password-input').fill(oldPassword);
    await byTestId('auth-submit').click();
    await attr('email-verified', 'data-verified', 'false', 'a new account');
    step(`signed up as ${email}: address not verified`, await shot('unverified'));

    // --- 2. the verification link from the mail ------------------------------
    const verifyLink = await linkInMail(MAIL_DIR, email, APP_URL, '/verify-email', seen);
    await page.goto(verifyLink);
    await attr('email-verified', 'data-verified', 'true', 'after following the verification link');
    await visible('flash', 'the verified notice');
    step('followed the link in the verification mail: address verified', await shot('verified'));

    // --- 3. signed out, forgot the password ----------------------------------
    await byTestId('sign-out').click();
    await byTestId('signin-form').waitFor();
    await byTestId('go-forgot').click();
    await byTestId('forgot-form').waitFor();
    await byTestId('email-input').fill(email);
    await byTestId('forgot-submit').click();
    await visible('reset-requested', 'after asking for a reset link');
    step('signed out; "Forgot your password?" asked for a reset link', await shot('reset-requested'));

    // --- 4. the reset link sets a new password -------------------------------
    const resetLink = await linkInMail(MAIL_DIR, email, APP_URL, '/reset-password', seen);
    await page.goto(resetLink);
    await byTestId('reset-form').waitFor();
    await byTestId('password-input').fill(newPassword);
    await byTestId('reset-submit').click();
    await visible('reset-done', 'after setting the new password');
    step('followed the link in the reset mail: new password set', await shot('reset-done'));

    // --- 5. the same link a second time is refused ---------------------------
    await page.goto(resetLink);
    await byTestId('reset-form').waitFor();
    await byTestId('password-input').fill('yet another passphrase');
    await byTestId('reset-submit').click();
    await attr('reset-error', 'data-code', 'BAD_USER_INPUT', 'the used reset link');
    step('the used link refused (BAD_USER_INPUT), nothing changed', await shot('reset-reused'));

    // --- 6. the old password no longer works, the new one does ---------------
    await signIn(email, oldPassword);
    await attr('auth-error', 'data-code', 'UNAUTHENTICATED', 'the old password');
    await signIn(email, newPassword);
    await attr('email-verified', 'data-verified', 'true', 'signed in with the new password');
    step('old password refused (UNAUTHENTICATED); signed in with the new one', await shot('signed-in'));

    if (blocked.length) fail(`requests to non-loopback hosts were blocked: ${[...new Set(blocked)].join(', ')}`);
    if (pageErrors.length) fail(`uncaught errors in the page: ${pageErrors.join(' | ')}`);
    await context.close();
  } catch (e) {
    await screenshotFailure(page, shotDir, TAG);
    if (pageErrors.length) console.error(`${TAG} page errors: ${pageErrors.join(' | ')}`);
    throw e;
  } finally {
    await browser.close();
  }
}

runSteps(TAG, TOTAL_TIMEOUT, main, () => stepNo);
