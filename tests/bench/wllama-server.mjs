// A small static server for the wllama page: cross-origin isolated (COOP/COEP), so wllama's
// multi-threaded build can use SharedArrayBuffer; serves the page, the wllama package from
// node_modules and the model file, and counts full downloads of the model.
import { createServer } from 'node:http';
import { createReadStream, statSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ROOT } from '../e2e/support.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const WLLAMA = join(ROOT, 'node_modules', '@wllama', 'wllama', 'esm');

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.wasm': 'application/wasm',
  '.gguf': 'application/octet-stream',
};

/// Starts the server on a free loopback port; resolves with { url, modelUrl, modelGets, stop }.
export async function startWllamaServer(modelFile) {
  const routes = {
    '/': join(HERE, 'wllama-page.html'),
    '/page.mjs': join(HERE, 'wllama-page.mjs'),
    '/wllama/index.js': join(WLLAMA, 'index.js'),
    '/wllama/wllama.wasm': join(WLLAMA, 'wasm', 'wllama.wasm'),
    '/model.gguf': modelFile,
  };
  let modelGets = 0;
  const server = createServer((req, res) => {
    const path = new URL(req.url, 'http://localhost').pathname;
    const file = routes[path];
    if (!file || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(404).end();
      return;
    }
    const stat = statSync(file);
    const ext = file.slice(file.lastIndexOf('.'));
    res.writeHead(200, {
      'content-type': TYPES[ext] ?? 'application/octet-stream',
      'content-length': stat.size,
      etag: `"${stat.size}-${Math.floor(stat.mtimeMs)}"`,
      'cache-control': 'no-cache',
      'cross-origin-opener-policy': 'same-origin',
      'cross-origin-embedder-policy': 'require-corp',
      'cross-origin-resource-policy': 'same-origin',
    });
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    if (path === '/model.gguf') modelGets += 1;
    createReadStream(file).pipe(res);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${server.address().port}/`;
  return {
    url,
    modelUrl: new URL('model.gguf', url).href,
    modelGets: () => modelGets,
    stop: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(resolve);
      }),
  };
}
