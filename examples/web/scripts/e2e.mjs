#!/usr/bin/env node
// Runs tests/browser/spa.mjs against a throwaway rig: stripe-sim, Entitle on
// a fresh SQLite file, and dist/ served by scripts/serve.mjs, each on a free
// loopback port. Build the app first (`npm run build`) and the binaries
// (`cargo build -p entitle -p stripe-sim` at the repository root).
//
//   ENTITLE_BIN     default ../../target/debug/entitle
//   STRIPE_SIM_BIN  default ../../target/debug/stripe-sim
//   SCREENSHOT_DIR  default a new temporary folder (printed)
//   The browser test needs tests/browser's packages: (cd ../../tests/browser && npm ci)

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { serve } from './serve.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const web = path.resolve(here, '..');
const repo = path.resolve(web, '../..');
const entitleBin = process.env.ENTITLE_BIN || path.join(repo, 'target/debug/entitle');
const simBin = process.env.STRIPE_SIM_BIN || path.join(repo, 'target/debug/stripe-sim');
const SECRET_KEY = 'sk_test_e2e';
const WEBHOOK_SECRET = 'whsec_e2e';

for (const [name, bin] of [['ENTITLE_BIN', entitleBin], ['STRIPE_SIM_BIN', simBin]]) {
  if (!fs.existsSync(bin)) {
    console.error(`e2e: ${bin} is missing: build it (cargo build -p entitle -p stripe-sim) or set ${name}`);
    process.exit(2);
  }
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function waitHealthy(url, what, child) {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${what} exited with ${child.exitCode}`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
      if (res.ok) return;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${what} did not answer ${url} within 30 s`);
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'entitle-web-e2e-'));
const children = [];
const start = (what, cmd, args, env) => {
  const log = fs.openSync(path.join(tmp, `${what}.log`), 'w');
  const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', log, log] });
  children.push(child);
  return child;
};

let status = 1;
let app;
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    for (const child of children) if (child.exitCode === null) child.kill('SIGTERM');
    process.exit(130);
  });
}
try {
  const [simPort, entitlePort] = [await freePort(), await freePort()];
  const simUrl = `http://127.0.0.1:${simPort}`;
  const entitleUrl = `http://127.0.0.1:${entitlePort}`;
  app = await serve({ dir: path.join(web, 'dist'), port: 0, entitleUrl, testHooks: true });

  const sim = start('stripe-sim', simBin, ['--port', String(simPort), '--webhook', `${entitleUrl}/webhooks/stripe=${WEBHOOK_SECRET}`], {});
  const entitle = start('entitle', entitleBin, ['serve'], {
    ENTITLE_BIND: `127.0.0.1:${entitlePort}`,
    DATABASE_URL: `sqlite://${path.join(tmp, 'entitle.db')}?mode=rwc`,
    ENTITLE_PLANS: path.join(repo, 'plans.toml'),
    STRIPE_SECRET_KEY: SECRET_KEY,
    STRIPE_API_BASE: simUrl,
    STRIPE_WEBHOOK_SECRETS: WEBHOOK_SECRET,
    ENTITLE_CORS_ORIGINS: app.url,
    ENTITLE_ALLOWED_REDIRECT_ORIGINS: app.url,
  });
  await waitHealthy(`${simUrl}/_sim/health`, 'stripe-sim', sim);
  await waitHealthy(`${entitleUrl}/healthz`, 'entitle', entitle);
  console.log(`e2e: app ${app.url}, Entitle ${entitleUrl}, stripe-sim ${simUrl} (logs in ${tmp})`);

  const test = spawn(process.execPath, [path.join(repo, 'tests/browser/spa.mjs')], {
    stdio: 'inherit',
    env: {
      ...process.env,
      APP_URL: app.url,
      ENTITLE_URL: entitleUrl,
      SIM_URL: simUrl,
      SIM_SECRET_KEY: SECRET_KEY,
      SCREENSHOT_DIR: process.env.SCREENSHOT_DIR || path.join(tmp, 'screenshots'),
    },
  });
  status = await new Promise((resolve) => test.on('exit', (code) => resolve(code ?? 1)));
} catch (e) {
  console.error(`e2e: ${e.message}`);
} finally {
  for (const child of children) if (child.exitCode === null) child.kill('SIGTERM');
  app?.server.close();
}
if (status !== 0) console.error(`e2e: failed; server logs are in ${tmp}`);
process.exit(status);
