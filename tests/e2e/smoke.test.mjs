// First browser smoke test: the page loads, the Rust service worker controls it, the Rust
// engine worker computes on WebGPU (SwiftShader) through wgpu, and the app opens offline.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, startServer, launchBrowser } from './support.mjs';

const builtVersion = () => JSON.parse(readFileSync(join(ROOT, 'dist', 'assets.json'), 'utf8')).version;

// Random f32 inputs; the expected sums are computed here, independently of the engine.
function f32Vectors(n, seed) {
  let s = seed;
  const next = () => ((s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32) * 8 - 4;
  const a = Array.from({ length: n }, () => Math.fround(next()));
  const b = Array.from({ length: n }, () => Math.fround(next()));
  return { a, b, sum: a.map((x, i) => Math.fround(x + b[i])) };
}

async function waitForReady(page) {
  await page.waitForSelector('#offline-status[data-state="ready"]', { timeout: 60_000 });
  await page.waitForSelector('#gpu-status[data-state="ready"]', { timeout: 60_000 });
}

async function askServiceWorkerVersion(page) {
  return page.evaluate(
    () =>
      new Promise((resolve, reject) => {
        const channel = new MessageChannel();
        channel.port1.onmessage = (e) => resolve(e.data);
        setTimeout(() => reject(new Error('no reply from the service worker')), 10_000);
        navigator.serviceWorker.controller.postMessage({ type: 'get_version' }, [channel.port2]);
      }),
  );
}

test('app shell, Rust service worker, WebGPU kernel, offline reload', async (t) => {
  const server = await startServer();
  const browser = await launchBrowser();
  t.after(async () => {
    await browser.close();
    await server.stop();
  });
  const { context, page } = browser;
  try {
    await page.goto(server.url);
    await waitForReady(page);
    assert.equal(await page.locator('h1').innerText(), 'Hearth');

    // The page is controlled by our service worker, and the Rust code inside it answers.
    const controller = await page.evaluate(() => navigator.serviceWorker.controller?.scriptURL);
    assert.equal(controller, new URL('sw.js', server.url).href);
    assert.deepEqual(await askServiceWorkerVersion(page), { type: 'version', version: builtVersion() });

    // The engine worker got a WebGPU adapter with its real limits (SwiftShader offers 1 GiB
    // per binding, the WebGPU default is 128 MiB) and ran the residual-add kernel.
    const { a, b, sum } = f32Vectors(70_000, 7);
    const reply = await page.evaluate(([a, b]) => window.hearth.gpuSelfTest(a, b), [a, b]);
    assert.equal(reply.type, 'gpu_self_test');
    assert.ok(reply.adapter.max_storage_binding > 128 * 1024 * 1024, JSON.stringify(reply.adapter));
    assert.equal(reply.sum.length, sum.length);
    const wrong = reply.sum.findIndex((x, i) => x !== sum[i]);
    assert.equal(wrong, -1, `element ${wrong}: GPU ${reply.sum[wrong]}, expected ${sum[wrong]}`);

    // Offline: the server is gone and the network is off, yet the app shell, the service
    // worker and the engine's wasm all load from the cache.
    await server.stop();
    await context.setOffline(true);
    await page.reload();
    await waitForReady(page);
    assert.equal(await page.locator('h1').innerText(), 'Hearth');
    const offlineReply = await page.evaluate(() => window.hearth.gpuSelfTest([1.5], [2.25]));
    assert.deepEqual(offlineReply.sum, [3.75]);
    assert.deepEqual(browser.errors, []);
  } catch (e) {
    console.log(browser.logs.join('\n'));
    throw e;
  }
});
