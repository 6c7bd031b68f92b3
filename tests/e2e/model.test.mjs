// The engine in the browser with the real SmolLM2-135M-Instruct Q6_K model, packed into
// verified chunks: first load through the service worker into IndexedDB and onto WebGPU
// (SwiftShader), a greedy reply equal to the native engine's, a reload onto the CPU engine
// that downloads nothing and replies the same, one onto the kernels hardware GPUs run, an
// offline start, a quota too small for the model, and models on another origin.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launchBrowser, nativeReply, assertSameReply, waitForStart, chunkRequests } from './support.mjs';

const PROMPT = 'What is the capital of France?';
const TOKENS = 4;

// Loads the catalog's first model on `backend` (auto, gpu or cpu); resolves with
// { loaded, events }.
function loadFirstModel(page, backend = 'auto') {
  return page.evaluate(async (backend) => {
    const [model] = await window.hearth.catalog();
    const events = [];
    try {
      const loaded = await window.hearth.loadModel(model.manifest_url, (e) => events.push(e), { backend });
      return { model, loaded, events };
    } catch (e) {
      return { model, error: { message: String(e.message), kind: e.kind }, events };
    }
  }, backend);
}

function reply(page, maxTokens = TOKENS) {
  return page.evaluate(
    async ([prompt, maxTokens]) => {
      const tokens = [];
      const done = await window.hearth.generate(
        [{ role: 'user', content: prompt }],
        { temperature: 0, max_tokens: maxTokens, repetition_penalty: 1.0 },
        (e) => tokens.push(e),
      );
      return { done, tokens };
    },
    [PROMPT, maxTokens],
  );
}

test('first load on WebGPU, reply equal to native; reload on the CPU engine without downloads; offline', async (t) => {
  const native = nativeReply(PROMPT, TOKENS);
  const server = await startServer(['--test-hooks']);
  const browser = await launchBrowser();
  t.after(async () => {
    await browser.close();
    await server.stop();
  });
  const { context, page } = browser;
  await page.goto(server.url);
  await waitForStart(page);

  const first = await loadFirstModel(page, 'gpu');
  assert.equal(first.error, undefined, JSON.stringify(first.error));
  const size = first.model.size;
  const chunks = Math.ceil(size / (16 << 20));
  assert.equal(first.loaded.type, 'loaded');
  assert.equal(first.loaded.runs_on, 'gpu');
  assert.ok(first.loaded.adapter.name, JSON.stringify(first.loaded));
  assert.equal(first.loaded.model.architecture, 'llama');
  // Progress names its stage and counts bytes up to the file's size.
  const downloads = first.events.filter((e) => e.stage === 'download');
  assert.ok(downloads.length > 2, JSON.stringify(first.events.slice(0, 5)));
  assert.ok(downloads.every((e) => e.bytes_total === size));
  assert.ok(first.events.some((e) => e.stage === 'upload' && e.bytes_done === size));
  assert.equal(await chunkRequests(server), chunks, 'every chunk fetched once');

  const answer = await reply(page);
  assert.equal(answer.done.type, 'done');
  assert.deepEqual(answer.done.stats.prompt_ids, native.prompt_ids);
  assertSameReply(answer.done.stats.ids, native);
  assert.equal(answer.tokens.map((e) => e.text).join(''), native.text);

  // Reload: the model comes from IndexedDB; no chunk request reaches the server. This time
  // on the CPU engine (wasm SIMD), which gives the same greedy reply.
  await page.reload();
  await waitForStart(page);
  const again = await loadFirstModel(page, 'cpu');
  assert.equal(again.error, undefined, JSON.stringify(again.error));
  assert.equal(again.loaded.runs_on, 'cpu');
  assert.equal(again.loaded.adapter ?? null, null);
  assert.equal(await chunkRequests(server), chunks, 'no new chunk requests after a reload');
  const onCpu = await reply(page);
  assert.deepEqual(onCpu.done.stats.prompt_ids, native.prompt_ids);
  assertSameReply(onCpu.done.stats.ids, native);

  // Again on WebGPU, with the kernels and weight layout that hardware GPUs get (fused norms,
  // SwiGLU and RoPE, Q6_K in lane order): Chromium compiles them and SwiftShader
  // runs them, slower than its own, to the same greedy reply.
  await page.reload();
  await waitForStart(page);
  const hardware = await loadFirstModel(page, 'gpu_hardware_layout');
  assert.equal(hardware.error, undefined, JSON.stringify(hardware.error));
  assert.equal(hardware.loaded.runs_on, 'gpu');
  const onHardwareLayout = await reply(page);
  assert.deepEqual(onHardwareLayout.done.stats.prompt_ids, native.prompt_ids);
  assertSameReply(onHardwareLayout.done.stats.ids, native);

  // Offline: server gone, network off; the app, its catalog and the model still load.
  await server.stop();
  await context.setOffline(true);
  await page.reload();
  await waitForStart(page);
  const offline = await loadFirstModel(page);
  assert.equal(offline.error, undefined, JSON.stringify(offline.error));
  // Automatic: SwiftShader is a software adapter, so the CPU engine runs, and says why.
  assert.equal(offline.loaded.runs_on, 'cpu');
  assert.equal(offline.loaded.fallback.reason, 'software_adapter', JSON.stringify(offline.loaded));
  const offlineAnswer = await reply(page);
  assertSameReply(offlineAnswer.done.stats.ids, native);
});

test('storage: refused before downloading when the estimate is short; a full disk mid-way resumes', async (t) => {
  const server = await startServer(['--test-hooks']);
  const browser = await launchBrowser();
  const second = await launchBrowser();
  t.after(async () => {
    await browser.close();
    await second.close();
    await server.stop();
  });
  const { page } = browser;

  // What the browser reports as free decides before any download. (Chromium's quota
  // override does not show in estimate(), so the estimate itself is what this case sets.)
  await page.addInitScript(() => {
    navigator.storage.estimate = async () => ({ quota: 40e6, usage: 5e6 });
  });
  await page.goto(server.url);
  await waitForStart(page);
  const refused = await loadFirstModel(page);
  assert.equal(refused.error?.kind, 'storage', JSON.stringify(refused));
  assert.match(refused.error.message, /needs 138 MB more, but this browser lets this site store only 35 MB more/);
  assert.equal(await chunkRequests(server), 0, 'nothing downloaded');

  // The real quota (DevTools override) runs out mid-download: the load fails with a storage
  // error, what was stored stays valid, and with room again only the missing chunks come.
  const fresh = second.page;
  await fresh.goto(server.url);
  await waitForStart(fresh);
  const cdp = await second.context.newCDPSession(fresh);
  const origin = new URL(server.url).origin;
  await cdp.send('Storage.overrideQuotaForOrigin', { origin, quotaSize: 40 * 1024 * 1024 });
  const full = await loadFirstModel(fresh);
  assert.equal(full.error?.kind, 'storage', JSON.stringify({ ...full, events: full.events.length }));
  assert.match(full.error.message, /storage is full/);
  const [status] = await fresh.evaluate(() => window.hearth.cacheStatus());
  const stored = status.chunks_stored;
  assert.ok(stored >= 1 && stored < status.chunks_total, JSON.stringify(status));
  const before = await chunkRequests(server);

  await cdp.send('Storage.overrideQuotaForOrigin', { origin });
  await fresh.reload();
  await waitForStart(fresh);
  const resumed = await loadFirstModel(fresh);
  assert.equal(resumed.error, undefined, JSON.stringify(resumed.error));
  assert.equal(
    (await chunkRequests(server)) - before,
    status.chunks_total - stored,
    'only the chunks that were missing are fetched',
  );
});

test('models served from another origin load the same way', async (t) => {
  const server = await startServer(['--test-hooks', '--model-port', '0']);
  assert.ok(server.modelUrl && new URL(server.modelUrl).origin !== new URL(server.url).origin);
  const browser = await launchBrowser();
  t.after(async () => {
    await browser.close();
    await server.stop();
  });
  const { page } = browser;
  await page.goto(server.url);
  await waitForStart(page);
  const loaded = await loadFirstModel(page);
  assert.equal(loaded.error, undefined, JSON.stringify(loaded.error));
  assert.ok(loaded.model.manifest_url.startsWith(server.modelUrl));
  const answer = await reply(page, 1);
  assert.equal(answer.done.stats.ids.length, 1);
});
