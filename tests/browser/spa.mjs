// End-to-end test of the example single-page app (examples/web) in the system
// Chromium (lib.mjs: playwright-core, no browser download): sign-up, the
// Analytics panel refused with ENTITLEMENT_REQUIRED, Upgrade to stripe-sim's
// hosted checkout, Pay, the success page's syncCheckout, Pro unlocked, the
// customer portal and back, a spoiled access token refreshed transparently
// (one refresh shared by concurrent requests, the WebSocket reconnected), a
// WebSocket handshake refused and recovered, a cancellation made through
// stripe-sim's API arriving live without a reload, a refresh token reused
// elsewhere signing the app out, and signing in and out again. A screenshot
// at each step.
//
// It starts no server. Environment:
//   APP_URL         where examples/web/dist is served, index.html for every
//                   unknown path, and /config.json =
//                   {"entitleUrl": ENTITLE_URL, "testHooks": true}
//   ENTITLE_URL     Entitle's base URL (started with ENTITLE_CORS_ORIGINS and
//                   ENTITLE_ALLOWED_REDIRECT_ORIGINS set to APP_URL's origin)
//   SIM_URL         stripe-sim's base URL (delivering webhooks to Entitle)
//   SIM_SECRET_KEY  the sk_test_… key Entitle uses, for stripe-sim's /v1 API
//   SCREENSHOT_DIR  where NN-name.png go (default: a new temporary folder)
//   CHROMIUM        the browser (default /usr/bin/chromium)
//   STEP_TIMEOUT_MS bound on each wait (default 20000)
//
// Every request the page makes to a host that is not loopback is blocked and
// fails the test. Exits 0 when every step passed, 1 otherwise.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CHROMIUM, CHROMIUM_ARGS, fail, isLoopback, launch, runSteps, screenshotFailure } from './lib.mjs';

const TAG = '[spa]';
const STEP_TIMEOUT = Number(process.env.STEP_TIMEOUT_MS || 20_000);
const TOTAL_TIMEOUT = 240_000;
// On top of the harness's flags: nothing but loopback resolves, whatever asks.
const ARGS = [...CHROMIUM_ARGS, '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1'];


function env(name) {
  const value = process.env[name];
  if (!value) fail(`${name} is not set (see the header of tests/browser/spa.mjs)`);
  return value.replace(/\/+$/, '');
}

let stepNo = 0;
function step(message, shotFile = null) {
  stepNo += 1;
  console.log(`${TAG} ${String(stepNo).padStart(2, '0')} ${message}${shotFile ? `  [${path.basename(shotFile)}]` : ''}`);
}

async function fetchJson(url, init = {}, what = url) {
  const ctrl = AbortSignal.timeout(STEP_TIMEOUT);
  let res;
  try {
    res = await fetch(url, { ...init, signal: ctrl });
  } catch (e) {
    fail(`${what}: ${e.cause?.message ?? e.message}`);
  }
  const text = await res.text();
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    fail(`${what}: answered ${res.status} with non-JSON: ${text.slice(0, 200)}`);
  }
  return { status: res.status, body };
}

async function main() {
  const APP_URL = env('APP_URL');
  const ENTITLE_URL = env('ENTITLE_URL');
  const SIM_URL = env('SIM_URL');
  const SIM_SECRET_KEY = env('SIM_SECRET_KEY');
  const shotDir = process.env.SCREENSHOT_DIR || fs.mkdtempSync(path.join(os.tmpdir(), 'entitle-spa-'));
  fs.mkdirSync(shotDir, { recursive: true });
  const appOrigin = new URL(APP_URL).origin;
  for (const [name, url] of Object.entries({ APP_URL, ENTITLE_URL, SIM_URL })) {
    if (!isLoopback(url)) fail(`${name}=${url} is not a loopback URL`);
  }

  // --- preflight: the three servers, and the app's config ------------------
  const config = await fetchJson(`${APP_URL}/config.json`, {}, `GET ${APP_URL}/config.json`);
  if (config.status !== 200) fail(`GET ${APP_URL}/config.json answered ${config.status}`);
  if (config.body.testHooks !== true) fail(`${APP_URL}/config.json must have "testHooks": true`);
  if (String(config.body.entitleUrl).replace(/\/+$/, '') !== ENTITLE_URL) {
    fail(`${APP_URL}/config.json says entitleUrl ${config.body.entitleUrl}, not ENTITLE_URL=${ENTITLE_URL}`);
  }
  const deep = await fetch(`${APP_URL}/success?session_id=probe`, { signal: AbortSignal.timeout(STEP_TIMEOUT) });
  if (deep.status !== 200 || !(await deep.text()).includes('<div id="root">')) {
    fail(`${APP_URL}/success does not answer index.html (status ${deep.status}): the server needs a fallback to index.html`);
  }
  const health = await fetch(`${ENTITLE_URL}/healthz`, { signal: AbortSignal.timeout(STEP_TIMEOUT) }).catch((e) =>
    fail(`Entitle at ${ENTITLE_URL}: ${e.cause?.message ?? e.message}`),
  );
  if (health.status !== 200) fail(`${ENTITLE_URL}/healthz answered ${health.status}`);
  const sim = await fetchJson(`${SIM_URL}/_sim/health`, {}, `stripe-sim at ${SIM_URL}`);
  if (sim.body.ok !== true) fail(`${SIM_URL}/_sim/health answered ${JSON.stringify(sim.body)}`);
  step(`preflight: app ${APP_URL}, Entitle ${ENTITLE_URL}, stripe-sim ${SIM_URL}, screenshots in ${shotDir}`);

  if (!fs.existsSync(CHROMIUM)) fail(`no Chromium at ${CHROMIUM} (apt-get install -y chromium, or set CHROMIUM)`);
  const browser = await launch({ args: ARGS });
  const blocked = [];
  const pageErrors = [];
  const consoleLines = [];
  let page = null;
  try {
    const context = await browser.newContext({ viewport: { width: 1100, height: 900 } });
    context.setDefaultTimeout(STEP_TIMEOUT);
    context.setDefaultNavigationTimeout(STEP_TIMEOUT);
    // Set to a function to run while the success page's syncCheckout is held.
    let onSyncCheckout = null;
    await context.route('**/*', async (route) => {
      const request = route.request();
      const url = request.url();
      if (!isLoopback(url)) {
        blocked.push(url);
        return route.abort('blockedbyclient');
      }
      if (onSyncCheckout && request.method() === 'POST' && url === `${ENTITLE_URL}/graphql` && (request.postData() ?? '').includes('SyncCheckout')) {
        const hook = onSyncCheckout;
        onSyncCheckout = null;
        await hook();
      }
      return route.continue();
    });
    page = await context.newPage();
    page.on('pageerror', (e) => pageErrors.push(String(e)));
    page.on('console', (m) => {
      consoleLines.push(`${m.type()}: ${m.text()}`);
    });

    let shotNo = 0;
    const shot = async (name) => {
      shotNo += 1;
      const file = path.join(shotDir, `${String(shotNo).padStart(2, '0')}-${name}.png`);
      await page.screenshot({ path: file, fullPage: true });
      return file;
    };
    const byTestId = (id) => page.getByTestId(id);
    const expectText = async (id, expected, what) => {
      const loc = byTestId(id);
      try {
        await loc.filter({ hasText: expected }).first().waitFor({ state: 'visible' });
      } catch {
        const now = (await loc.count()) ? await loc.first().innerText() : '(absent)';
        fail(`${what}: expected [data-testid=${id}] to show "${expected}", it shows "${now}"`);
      }
    };
    const waitAttr = async (id, attr, expected, what) => {
      try {
        await page.locator(`[data-testid="${id}"][${attr}="${expected}"]`).first().waitFor({ state: 'attached' });
      } catch {
        const loc = byTestId(id);
        const now = (await loc.count()) ? await loc.first().getAttribute(attr) : '(absent)';
        const error = await page.locator('[role=alert]').allInnerTexts();
        fail(`${what}: expected [data-testid=${id}] ${attr}="${expected}", got "${now}"${error.length ? `; on the page: ${error.join(' | ')}` : ''}`);
      }
    };
    const stats = () => page.evaluate(() => window.__entitleTest?.stats() ?? null);
    const waitFor = async (what, predicate) => {
      const deadline = Date.now() + STEP_TIMEOUT;
      let last;
      while (Date.now() < deadline) {
        last = await predicate();
        if (last === true) return;
        await new Promise((r) => setTimeout(r, 100));
      }
      fail(`${what} (after ${STEP_TIMEOUT} ms; last: ${JSON.stringify(last)})`);
    };

    // --- 1. sign up ----------------------------------------------------------
    const email = `spa-${Date.now()}-${Math.floor(Math.random() * 1e6)}@example.com`;
    const password = 'correct horse battery staple';
    await page.goto(`${APP_URL}/signup`);
    await byTestId('signup-form').waitFor();
    if ((await page.evaluate(() => typeof window.__entitleTest)) !== 'object') {
      fail('window.__entitleTest is missing although config.json has "testHooks": true');
    }
    await byTestId('email-input').fill(email);
    await byTestId('password-input').fill(password);
    const signupShot = await shot('signup');
    await byTestId('auth-submit').click();
    await expectText('signed-in-email', email, 'after sign-up');
    await expectText('plan', 'free', 'a new account');
    step(`signed up as ${email}: plan free`, signupShot);

    // --- 2. analytics refused ----------------------------------------------
    await waitAttr('analytics-panel', 'data-state', 'locked', 'the Analytics panel on the free plan');
    await expectText('upgrade-plans', 'pro', 'the upgrade prompt');
    const reason = await byTestId('upgrade-prompt').getAttribute('data-feature');
    if (reason !== 'advanced_analytics') fail(`upgrade prompt names feature "${reason}", not advanced_analytics`);
    await waitAttr('live-status', 'data-state', 'connected', 'the live-updates WebSocket');
    step('Analytics refused with ENTITLEMENT_REQUIRED: upgrade prompt lists pro; live updates connected', await shot('refused'));

    // --- 3. checkout on stripe-sim -----------------------------------------
    await page.locator('[data-testid="upgrade-button"][data-plan="pro"]').click();
    await page.waitForURL((u) => u.href.startsWith(`${SIM_URL}/checkout/cs_`)).catch(() =>
      fail(`Upgrade did not lead to stripe-sim's checkout page (at ${page.url()})`),
    );
    const sessionId = new URL(page.url()).pathname.split('/').pop();
    await page.getByRole('button', { name: 'Pay', exact: true }).waitFor();
    step(`on stripe-sim's hosted checkout page for ${sessionId}`, await shot('checkout'));

    // --- 4. pay, success page, pro ------------------------------------------
    let successShot = null;
    onSyncCheckout = async () => {
      await byTestId('success-page').waitFor();
      successShot = await shot('success');
    };
    await page.getByRole('button', { name: 'Pay', exact: true }).click();
    await page
      .waitForURL((u) => u.origin === appOrigin && u.pathname === '/success', { waitUntil: 'commit' })
      .catch(() => fail(`Pay did not redirect to ${appOrigin}/success (at ${page.url()})`));
    const landed = new URL(page.url());
    if (landed.searchParams.get('session_id') !== sessionId) {
      fail(`success page got session_id=${landed.searchParams.get('session_id')}, expected ${sessionId}`);
    }
    await byTestId('flash').waitFor().catch(() => fail('the success page did not confirm the payment'));
    if (!successShot) fail('the success page sent no syncCheckout');
    step(`redirected to ${landed.pathname}${landed.search}: the success page called syncCheckout`, successShot);
    if (new URL(page.url()).pathname !== '/') fail(`after syncCheckout the app is at ${page.url()}, not /`);
    await expectText('plan', 'pro', 'after checkout');
    await waitAttr('analytics-panel', 'data-state', 'unlocked', 'the Analytics panel on pro');
    await byTestId('usage-monthly_requests').waitFor();
    const status = await byTestId('subscription-status').getAttribute('data-status');
    if (!['TRIALING', 'ACTIVE'].includes(status)) fail(`subscription status after checkout is ${status}`);
    const flash = await byTestId('flash').innerText();
    await waitAttr('live-status', 'data-state', 'connected', 'live updates after the checkout');
    step(`syncCheckout done ("${flash.replace(/\s*×$/, '')}"): plan pro, status ${status}, Analytics unlocked`, await shot('pro'));

    // --- 5. the customer portal: cancel at period end, come back -------------
    await byTestId('manage-billing').click();
    await page.waitForURL((u) => u.href.startsWith(`${SIM_URL}/portal/`)).catch(() =>
      fail(`Manage billing did not lead to stripe-sim's portal (at ${page.url()})`),
    );
    await page.getByRole('button', { name: 'Cancel at period end' }).click();
    await page.getByRole('button', { name: "Don't cancel" }).waitFor();
    step('stripe-sim portal: chose "Cancel at period end"', await shot('portal'));
    await page.getByRole('link', { name: /Return/ }).click();
    await page
      .waitForURL((u) => u.origin === appOrigin && u.pathname === '/')
      .catch(() => fail(`the portal's return link did not lead to ${appOrigin}/ (at ${page.url()})`));
    await byTestId('cancel-at-period-end').waitFor().catch(() => fail('the account does not show the scheduled cancellation'));
    await expectText('plan', 'pro', 'while set to cancel at period end');
    await waitAttr('analytics-panel', 'data-state', 'unlocked', 'the Analytics panel while set to cancel');
    await waitAttr('live-status', 'data-state', 'connected', 'live updates after the portal');
    step('back from the portal: still pro, "set to cancel" shown', await shot('portal-return'));

    // --- 6. a transparent refresh -------------------------------------------
    // Entitle's access tokens carry no id: two issued to one user in the same
    // second are the same string. Let a second pass, so the refresh below
    // yields a different token and the WebSocket has a reason to reconnect.
    await page.waitForTimeout(1100);
    await page.evaluate(() => {
      window.__spaMarker = 'before-refresh';
    });
    const before = await stats();
    if (!before || before.session !== 'signedIn') fail(`unexpected session state: ${JSON.stringify(before)}`);
    const spoiled = await page.evaluate(() => window.__entitleTest.expireAccessToken());
    if (!spoiled) fail('expireAccessToken() found no access token');
    await byTestId('reload').click(); // refetches the account and the usage at once
    await waitFor('one refresh after the access token was spoiled', async () => {
      const s = await stats();
      return s.refreshes === before.refreshes + 1 && s.retries >= before.retries + 2 ? true : s;
    });
    await waitFor('the WebSocket reconnected with the fresh token', async () => {
      const s = await stats();
      return s.live.connects > before.live.connects && s.live.state === 'connected' ? true : s.live;
    });
    await expectText('plan', 'pro', 'after the transparent refresh');
    await waitAttr('analytics-panel', 'data-state', 'unlocked', 'the Analytics panel after the refresh');
    if ((await byTestId('account-error').count()) > 0) fail(`account error after refresh: ${await byTestId('account-error').innerText()}`);
    const afterRefresh = await stats();
    if (afterRefresh.refreshes !== before.refreshes + 1) fail(`expected exactly one refresh, saw ${afterRefresh.refreshes - before.refreshes}`);
    if ((await page.evaluate(() => window.__spaMarker)) !== 'before-refresh') fail('the page reloaded during the refresh');
    step(
      `spoiled access token: ${afterRefresh.refreshes - before.refreshes} refresh shared by ${afterRefresh.retries - before.retries} retried requests, WebSocket reconnected (${afterRefresh.live.connects - before.live.connects}x), no reload`,
      await shot('refreshed'),
    );

    // --- 7. the WebSocket refused on reconnect, recovered ---------------------
    // As after a network drop once the access token has expired: graphql-ws
    // reconnects with the old token, Entitle refuses the handshake, and the
    // app must refresh and connect again on its own.
    await page.waitForTimeout(1100); // a new second, so a new token (see above)
    const beforeDrop = await stats();
    await page.evaluate(() => window.__entitleTest.expireAccessToken());
    if (!(await page.evaluate(() => window.__entitleTest.dropWebSocket()))) fail('dropWebSocket() found no open socket');
    await waitFor('the refused WebSocket recovered with a fresh token', async () => {
      const s = await stats();
      return s.refreshes === beforeDrop.refreshes + 1 && s.live.connects > beforeDrop.live.connects && s.live.state === 'connected'
        ? true
        : { refreshes: s.refreshes, session: s.session, live: s.live };
    });
    if ((await page.evaluate(() => window.__spaMarker)) !== 'before-refresh') fail('the page reloaded while the WebSocket recovered');
    const afterDrop = await stats();
    if (afterDrop.refusedHandshakes <= beforeDrop.refusedHandshakes) fail('the app recovered, but Entitle never refused a handshake: the test did not test that path');
    step(
      `WebSocket dropped with a spoiled token: ${afterDrop.refusedHandshakes - beforeDrop.refusedHandshakes} handshake(s) refused, ${afterDrop.refreshes - beforeDrop.refreshes} refresh, reconnected, no reload`,
    );

    // --- 8. canceled elsewhere, seen live -----------------------------------
    const subId = (await byTestId('subscription-id').innerText()).trim();
    if (!/^sub_/.test(subId)) fail(`no subscription id on the page (got "${subId}")`);
    const marker = `no-reload-${Date.now()}`;
    await page.evaluate((m) => {
      window.__spaMarker = m;
    }, marker);
    const urlBefore = page.url();
    const beforeCancel = await stats();
    const del = await fetchJson(
      `${SIM_URL}/v1/subscriptions/${subId}`,
      { method: 'DELETE', headers: { authorization: `Bearer ${SIM_SECRET_KEY}` } },
      `DELETE ${SIM_URL}/v1/subscriptions/${subId}`,
    );
    if (del.status !== 200 || del.body.status !== 'canceled') {
      fail(`stripe-sim DELETE /v1/subscriptions/${subId} answered ${del.status}: ${JSON.stringify(del.body)}`);
    }
    step(`canceled ${subId} through stripe-sim's API (as the dashboard or another device would)`);
    await waitAttr('subscription-status', 'data-status', 'CANCELED', 'the page after the cancellation webhook');
    await expectText('plan', 'free', 'after the cancellation');
    await waitAttr('analytics-panel', 'data-state', 'locked', 'the Analytics panel after the cancellation');
    if ((await page.evaluate(() => window.__spaMarker)) !== marker) fail('the page was reloaded: window.__spaMarker is gone');
    if (page.url() !== urlBefore) fail(`the page navigated from ${urlBefore} to ${page.url()}`);
    const afterCancel = await stats();
    if (afterCancel.live.pushes <= beforeCancel.live.pushes) {
      fail(`the page changed but no entitlementsChanged push arrived: ${JSON.stringify(afterCancel.live)}`);
    }
    step(`page shows plan free, status canceled, Analytics locked without a reload (${afterCancel.live.pushes - beforeCancel.live.pushes} push(es))`, await shot('canceled-live'));

    // --- 9. a refused refresh signs out -------------------------------------
    const stolen = await page.evaluate(() => localStorage.getItem('entitle.refreshToken'));
    if (!stolen) fail('no refresh token in localStorage (key entitle.refreshToken)');
    const spend = await fetchJson(
      `${ENTITLE_URL}/graphql`,
      {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify({
          query: 'mutation($t: String!) { refresh(refreshToken: $t) { accessToken } }',
          variables: { t: stolen },
        }),
      },
      'spending the refresh token elsewhere',
    );
    if (!spend.body.data?.refresh?.accessToken) fail(`refresh elsewhere failed: ${JSON.stringify(spend.body)}`);
    await page.evaluate(() => window.__entitleTest.expireAccessToken());
    await byTestId('reload').click();
    await byTestId('signin-form').waitFor().catch(() => fail('a refused refresh did not lead to the sign-in page'));
    await expectText('session-notice', 'session has ended', 'the sign-in page after a refused refresh');
    if (await page.evaluate(() => localStorage.getItem('entitle.refreshToken'))) fail('the refresh token is still in localStorage');
    step('refresh token reused elsewhere: the app was refused, cleared its tokens and shows the sign-in page', await shot('signed-out'));

    // --- 10. sign in again, sign out -----------------------------------------
    await byTestId('email-input').fill(email);
    await byTestId('password-input').fill('not the password');
    await byTestId('auth-submit').click();
    await waitAttr('auth-error', 'data-code', 'UNAUTHENTICATED', 'a wrong password');
    await byTestId('password-input').fill(password);
    await byTestId('auth-submit').click();
    await expectText('signed-in-email', email, 'after signing in again');
    await expectText('plan', 'free', 'after signing in again');
    await waitAttr('subscription-status', 'data-status', 'CANCELED', 'after signing in again');
    const againShot = await shot('signed-in-again');
    const rt = await page.evaluate(() => localStorage.getItem('entitle.refreshToken'));
    await byTestId('sign-out').click();
    await byTestId('signin-form').waitFor();
    const reuse = await fetchJson(
      `${ENTITLE_URL}/graphql`,
      {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify({
          query: 'mutation($t: String!) { refresh(refreshToken: $t) { accessToken } }',
          variables: { t: rt },
        }),
      },
      'refresh after sign-out',
    );
    if (reuse.body.errors?.[0]?.extensions?.code !== 'UNAUTHENTICATED') {
      fail(`after sign-out the refresh token still works: ${JSON.stringify(reuse.body)}`);
    }
    step('wrong password refused (UNAUTHENTICATED); signed in again (free, canceled); sign-out ended the session at Entitle', againShot);

    if (blocked.length) fail(`requests to non-loopback hosts were blocked: ${[...new Set(blocked)].join(', ')}`);
    if (pageErrors.length) fail(`uncaught errors in the page: ${pageErrors.join(' | ')}`);
    await context.close();
  } catch (e) {
    await screenshotFailure(page, shotDir, TAG);
    if (consoleLines.length) console.error(`${TAG} browser console (last 30):\n  ${consoleLines.slice(-30).join('\n  ')}`);
    if (pageErrors.length) console.error(`${TAG} page errors: ${pageErrors.join(' | ')}`);
    if (blocked.length) console.error(`${TAG} blocked: ${[...new Set(blocked)].join(', ')}`);
    throw e;
  } finally {
    await browser.close();
  }
}

runSteps(TAG, TOTAL_TIMEOUT, main, () => stepNo);
