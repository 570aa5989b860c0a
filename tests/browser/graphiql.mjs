// Checks Entitle's GraphiQL page in the system Chromium, offline.
//
//   ENTITLE_URL=http://127.0.0.1:8080 [ACCESS_TOKEN=…] [ACCESS_EMAIL=…] \
//   [ENTITLE_WS_CHECK=1] [SCREENSHOT_DIR=…] [CHROMIUM=/usr/bin/chromium] \
//     node tests/browser/graphiql.mjs
//
// Opens ${ENTITLE_URL}/graphql, waits for the editor and the schema, opens
// and closes the settings dialog, runs `{ plans { name } }` and expects the
// plans of plans.toml (free, pro, studio). With ACCESS_TOKEN, puts
// {"Authorization": "Bearer <token>"} into the Headers pane and runs
// `{ me { email } }` (compared with ACCESS_EMAIL when set). With
// ENTITLE_WS_CHECK=1, runs `subscription { entitlementsChanged { plan } }` and
// expects it accepted: the WebSocket /graphql/ws opened with subprotocol
// graphql-transport-ws, connection_ack received, and no error within 2 s.
//
// Every request to an origin other than this machine (127.0.0.0/8, ::1,
// localhost) is aborted and fails the run, so a pass proves the page works
// offline. A Content-Security-Policy violation, an uncaught page error or a
// console error also fails it.
//
// Exit codes: 0 all checks passed, 1 a check failed, 2 bad usage.
import { launch, screenshot, isLoopback, step } from './lib.mjs';

const EXPECTED_PLANS = ['free', 'pro', 'studio'];
const STEP_TIMEOUT_MS = 20_000;
const WS_QUIET_MS = 2_000;

class CheckFailed extends Error {}
function check(cond, message) {
  if (!cond) throw new CheckFailed(message);
}

const base = (process.env.ENTITLE_URL || '').replace(/\/+$/, '');
if (!base) {
  console.error('[graphiql] usage: ENTITLE_URL=http://127.0.0.1:8080 [ACCESS_TOKEN=…] ' +
    '[ENTITLE_WS_CHECK=1] node tests/browser/graphiql.mjs');
  process.exit(2);
}
if (!isLoopback(base)) {
  console.error(`[graphiql] ENTITLE_URL must be on this machine (loopback), got ${base}`);
  process.exit(2);
}
const token = process.env.ACCESS_TOKEN || '';
const email = process.env.ACCESS_EMAIL || '';
const wsCheck = process.env.ENTITLE_WS_CHECK === '1';
const pageUrl = `${base}/graphql`;

// Problems seen by listeners; checked after every step.
const problems = [];
function assertNoProblems() {
  check(problems.length === 0, problems.join('\n  '));
}

const QUERY_EDITOR = '.graphiql-query-editor .CodeMirror';
const HEADERS_EDITOR = '.graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror';
const RESULT_EDITOR = '.result-window .CodeMirror';

async function setEditor(page, selector, value) {
  await page.waitForSelector(selector, { timeout: STEP_TIMEOUT_MS });
  await page.evaluate(([sel, v]) => document.querySelector(sel).CodeMirror.setValue(v), [selector, value]);
}

async function getEditor(page, selector) {
  return page.evaluate((sel) => document.querySelector(sel).CodeMirror.getValue(), selector);
}

// The GraphQL document a request carries, or null.
function sentQuery(request) {
  try {
    return JSON.parse(request.postData() || '').query ?? null;
  } catch {
    return null;
  }
}

// Runs the query editor's operation and returns the result pane as JSON,
// with the HTTP request that carried it: the one whose document is `query`
// (a substring would also match GraphiQL's introspection query).
async function run(page, query) {
  await setEditor(page, QUERY_EDITOR, query);
  await setEditor(page, RESULT_EDITOR, '');
  const request = page.waitForRequest(
    (r) => r.method() === 'POST' && sentQuery(r)?.trim() === query,
    { timeout: STEP_TIMEOUT_MS },
  );
  request.catch(() => {}); // awaited below; never an unhandled rejection
  await page.click('.graphiql-execute-button');
  const req = await request;
  await page.waitForFunction(
    (sel) => document.querySelector(sel).CodeMirror.getValue().trim() !== '',
    RESULT_EDITOR,
    { timeout: STEP_TIMEOUT_MS },
  );
  const text = await getEditor(page, RESULT_EDITOR);
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    throw new CheckFailed(`the result pane is not JSON: ${text.slice(0, 300)}`);
  }
  return { json, req };
}

async function main() {
  const browser = await launch();
  step(`chromium ${browser.version()} launched`);
  const context = await browser.newContext();
  let page;
  try {
    // Offline: abort anything that leaves the machine, and remember it.
    await context.route('**/*', (route) => {
      const url = route.request().url();
      if (isLoopback(url)) return route.continue();
      return route.abort('blockedbyclient');
    });
    // WebSockets are not HTTP routes: refuse those that leave the machine too.
    await context.routeWebSocket((url) => !isLoopback(url.href), (ws) => {
      problems.push(`websocket to a non-loopback origin (refused): ${ws.url()}`);
      ws.close({ code: 1008, reason: 'offline test' });
    });
    context.on('request', (r) => {
      if (!isLoopback(r.url())) problems.push(`request to a non-loopback origin (aborted): ${r.url()}`);
    });
    // CSP violations as the page sees them (init scripts are not subject to the CSP).
    await context.addInitScript(() => {
      document.addEventListener('securitypolicyviolation', (e) => {
        console.error(`[csp-violation] ${e.violatedDirective} blocked ${e.blockedURI || '(inline)'} ` +
          `from ${e.sourceFile || '?'}:${e.lineNumber || '?'}`);
      });
    });

    page = await context.newPage();
    page.on('console', (m) => {
      const text = m.text();
      if (text.includes('[csp-violation]') || text.includes('Content Security Policy')) {
        problems.push(`CSP violation: ${text}`);
      } else if (m.type() === 'error') {
        problems.push(`console error: ${text}`);
      }
    });
    page.on('pageerror', (e) => problems.push(`uncaught error: ${e.message}`));
    page.on('requestfailed', (r) => {
      if (isLoopback(r.url())) problems.push(`request failed: ${r.url()} (${r.failure()?.errorText})`);
    });

    // WebSockets: Playwright's view (frames) and CDP's (handshake headers).
    const sockets = [];
    page.on('websocket', (ws) => {
      const s = { url: ws.url(), sent: [], received: [], closed: false, error: null };
      sockets.push(s);
      ws.on('framesent', (f) => s.sent.push(String(f.payload)));
      ws.on('framereceived', (f) => s.received.push(String(f.payload)));
      ws.on('close', () => { s.closed = true; });
      ws.on('socketerror', (e) => { s.error = String(e); });
    });
    const handshakes = [];
    const cdp = await context.newCDPSession(page);
    await cdp.send('Network.enable');
    cdp.on('Network.webSocketHandshakeResponseReceived', (e) => handshakes.push(e.response));

    // 1. The page, its assets and the schema.
    const introspection = page.waitForResponse(
      (r) => r.request().method() === 'POST' && (r.request().postData() || '').includes('IntrospectionQuery'),
      { timeout: STEP_TIMEOUT_MS },
    );
    introspection.catch(() => {}); // awaited below; never an unhandled rejection
    const res = await page.goto(pageUrl, { waitUntil: 'load', timeout: STEP_TIMEOUT_MS });
    check(res, `no response for ${pageUrl}`);
    check(res.status() === 200, `GET ${pageUrl} answered ${res.status()}`);
    const ctype = res.headers()['content-type'] || '';
    check(ctype.startsWith('text/html'), `GET ${pageUrl} answered content-type ${ctype || '(none)'}`);
    const csp = res.headers()['content-security-policy'];
    step(`GET ${pageUrl}: 200 ${ctype}; CSP: ${csp || '(none sent: CSP compliance not tested)'}`);
    try {
      await page.waitForSelector(QUERY_EDITOR, { timeout: STEP_TIMEOUT_MS });
    } catch {
      throw new CheckFailed(`GraphiQL's editor did not appear within ${STEP_TIMEOUT_MS} ms` +
        (problems.length ? `:\n  ${problems.join('\n  ')}` : ''));
    }
    step('editor ready');
    const intro = await introspection;
    check(intro.status() === 200, `the introspection query answered ${intro.status()}`);
    await page.waitForTimeout(300);
    assertNoProblems();
    step('schema introspected');
    await screenshot(page, '01-loaded');

    // 2. A dialog (its scroll lock injects a <style>: a CSP check).
    await page.click('button[aria-label="Open settings dialog"]', { timeout: STEP_TIMEOUT_MS });
    await page.waitForSelector('[role="dialog"]', { timeout: STEP_TIMEOUT_MS });
    await page.waitForTimeout(300);
    await screenshot(page, '02-settings');
    await page.keyboard.press('Escape');
    await page.waitForSelector('[role="dialog"]', { state: 'detached', timeout: STEP_TIMEOUT_MS });
    assertNoProblems();
    step('settings dialog opened and closed');

    // 3. Plans.
    {
      const { json, req } = await run(page, '{ plans { name } }');
      const accept = req.headers()['accept'] || '';
      check(accept === 'application/graphql-response+json, application/json',
        `the query was sent with Accept: ${accept || '(none)'}`);
      check(!json.errors, `{ plans } answered errors: ${JSON.stringify(json.errors)}`);
      const names = (json.data?.plans || []).map((p) => p.name);
      check(JSON.stringify([...names].sort()) === JSON.stringify(EXPECTED_PLANS),
        `{ plans } answered ${JSON.stringify(names)}, expected ${JSON.stringify(EXPECTED_PLANS)}`);
      assertNoProblems();
      step(`{ plans { name } }: ${names.join(', ')} (Accept: ${accept})`);
      await screenshot(page, '03-plans');
    }

    // 4. The signed-in caller, with the token in the Headers pane.
    if (token) {
      await page.click('.graphiql-editor-tools button:has-text("Headers")', { timeout: STEP_TIMEOUT_MS });
      await setEditor(page, HEADERS_EDITOR, JSON.stringify({ Authorization: `Bearer ${token}` }));
      const { json, req } = await run(page, '{ me { email } }');
      check(req.headers()['authorization'] === `Bearer ${token}`,
        'the query was not sent with the Authorization header from the Headers pane');
      check(!json.errors, `{ me } answered errors: ${JSON.stringify(json.errors)}`);
      const got = json.data?.me?.email;
      check(typeof got === 'string' && got.includes('@'), `{ me } answered ${JSON.stringify(json.data)}`);
      if (email) check(got === email, `{ me } answered ${got}, expected ${email}`);
      assertNoProblems();
      step(`{ me { email } } with the Headers pane's Authorization: ${got}`);
      await screenshot(page, '04-me');
    } else {
      step('ACCESS_TOKEN not set: { me } skipped');
    }

    // 5. A subscription over graphql-transport-ws.
    if (wsCheck) {
      const before = sockets.length;
      await setEditor(page, QUERY_EDITOR, 'subscription { entitlementsChanged { plan } }');
      await setEditor(page, RESULT_EDITOR, '');
      const opened = page.waitForEvent('websocket', { timeout: STEP_TIMEOUT_MS });
      opened.catch(() => {}); // awaited below; never an unhandled rejection
      await page.click('.graphiql-execute-button');
      await opened;
      const s = sockets[before];
      check(new URL(s.url).pathname === '/graphql/ws', `the subscription opened ${s.url}, expected /graphql/ws`);
      const deadline = Date.now() + STEP_TIMEOUT_MS;
      while (!s.received.some((f) => f.includes('"connection_ack"')) && !s.closed && Date.now() < deadline) {
        await page.waitForTimeout(50);
      }
      check(s.received.some((f) => f.includes('"connection_ack"')),
        `no connection_ack on ${s.url}; received ${JSON.stringify(s.received)}, closed=${s.closed}`);
      const hs = handshakes.find((h) => h.status === 101);
      check(hs, `no 101 handshake seen for ${s.url}`);
      const proto = Object.entries(hs.headers || {})
        .find(([k]) => k.toLowerCase() === 'sec-websocket-protocol')?.[1];
      check(proto === 'graphql-transport-ws',
        `the WebSocket opened with subprotocol ${proto || '(none)'}, expected graphql-transport-ws`);
      const init = s.sent.map((f) => JSON.parse(f)).find((m) => m.type === 'connection_init');
      check(init, 'no connection_init sent');
      if (token) {
        check(init.payload?.authorization === `Bearer ${token}`,
          `connection_init payload is ${JSON.stringify(init.payload)}, expected { authorization: "Bearer <ACCESS_TOKEN>" }`);
      }
      check(s.sent.some((f) => f.includes('"subscribe"') && f.includes('entitlementsChanged')),
        'the subscription was not sent over the WebSocket');
      await page.waitForTimeout(WS_QUIET_MS);
      const frames = s.received.map((f) => JSON.parse(f));
      const bad = frames.filter((m) => m.type === 'error' || m.type === 'complete' ||
        (m.type === 'next' && m.payload?.errors));
      check(bad.length === 0, `the server answered the subscription with ${JSON.stringify(bad)}`);
      check(!s.closed && !s.error, `the WebSocket closed within ${WS_QUIET_MS} ms (${s.error || 'closed'})`);
      const shown = await getEditor(page, RESULT_EDITOR);
      check(!/"errors"|Error/.test(shown), `the result pane shows an error: ${shown.slice(0, 300)}`);
      assertNoProblems();
      step(`subscription accepted on ${s.url} (subprotocol ${proto}, connectionParams ` +
        `${token ? 'with authorization' : 'anonymous'}, no error in ${WS_QUIET_MS} ms)`);
      await screenshot(page, '05-subscription');
      // Stop it: GraphiQL's run button stops a running subscription.
      await page.click('.graphiql-execute-button');
      const stopBy = Date.now() + STEP_TIMEOUT_MS;
      while (!s.sent.some((f) => f.includes('"complete"')) && Date.now() < stopBy) await page.waitForTimeout(50);
      check(s.sent.some((f) => f.includes('"complete"')), 'stopping the subscription sent no complete');
      assertNoProblems();
      step('subscription stopped (complete sent)');
    } else {
      step('ENTITLE_WS_CHECK not 1: subscription skipped');
    }

    assertNoProblems();
    step('PASS');
    return 0;
  } catch (e) {
    if (page) await screenshot(page, 'failure').catch(() => {});
    const message = e instanceof CheckFailed ? e.message : (e.stack || String(e));
    console.error(`[graphiql] FAIL: ${message}`);
    if (problems.length && !message.includes(problems[0])) {
      console.error(`[graphiql] also seen:\n  ${problems.join('\n  ')}`);
    }
    return 1;
  } finally {
    await browser.close().catch(() => {});
  }
}

process.exitCode = await main().catch((e) => {
  console.error(`[graphiql] FAIL: ${e.stack || e}`);
  return 1;
});
