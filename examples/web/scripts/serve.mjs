#!/usr/bin/env node
// A static server for the built app, as a production host would serve it:
// files from dist/, index.html for every other path (client-side routes such
// as /success), and /config.json written from the command line.
//
//   node scripts/serve.mjs [--port 4173] [--dir dist] [--entitle-url http://127.0.0.1:8080] [--test-hooks]
//
// Without --entitle-url, dist/config.json is served as built.

import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.map': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
};

export function serve({ dir, port = 0, host = '127.0.0.1', entitleUrl = null, testHooks = false }) {
  const root = path.resolve(dir);
  const index = path.join(root, 'index.html');
  if (!fs.existsSync(index)) throw new Error(`${index} is missing: run \`npm run build\` first`);
  const config = entitleUrl ? JSON.stringify({ entitleUrl, testHooks }) : null;

  const server = http.createServer((req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    let pathname;
    try {
      pathname = decodeURIComponent(new URL(req.url ?? '/', 'http://localhost').pathname);
    } catch {
      res.writeHead(400).end();
      return;
    }
    if (pathname === '/config.json' && config) {
      res.writeHead(200, { 'content-type': TYPES['.json'], 'cache-control': 'no-store' });
      res.end(req.method === 'HEAD' ? undefined : config);
      return;
    }
    let file = path.join(root, pathname);
    const isFile = file.startsWith(root + path.sep) && fs.existsSync(file) && fs.statSync(file).isFile();
    if (!isFile) {
      // An asset that is not there is a 404; any other path is a route of the app.
      if (pathname.startsWith('/assets/')) {
        res.writeHead(404).end();
        return;
      }
      file = index;
    }
    const immutable = file.startsWith(path.join(root, 'assets') + path.sep);
    res.writeHead(200, {
      'content-type': TYPES[path.extname(file)] ?? 'application/octet-stream',
      'cache-control': immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
    });
    if (req.method === 'HEAD') res.end();
    else fs.createReadStream(file).pipe(res);
  });

  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      const { port: actual } = server.address();
      resolve({ server, url: `http://${host}:${actual}` });
    });
  });
}

function parseArgs(argv) {
  const args = { dir: 'dist', port: 4173, entitleUrl: null, testHooks: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--port') args.port = Number(argv[++i]);
    else if (a === '--dir') args.dir = argv[++i];
    else if (a === '--entitle-url') args.entitleUrl = argv[++i];
    else if (a === '--test-hooks') args.testHooks = true;
    else throw new Error(`unknown argument ${a}`);
  }
  return args;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = parseArgs(process.argv.slice(2));
  const { url } = await serve(args);
  console.log(`serving ${path.resolve(args.dir)} at ${url}${args.entitleUrl ? ` (Entitle: ${args.entitleUrl})` : ''}`);
}
