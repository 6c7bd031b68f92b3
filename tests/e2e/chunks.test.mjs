// The service worker's chunk proxy, in real Chromium with the real service worker, IndexedDB
// and the real packed SmolLM2 model: the page fetches manifests and chunks (its fetches go
// through the service worker) and the dev server's test hooks count what reaches the network
// and corrupt or cut chosen responses. A few chunks are enough; the whole model is not needed.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ROOT,
  startServer,
  launchBrowser,
  waitForController,
  askServiceWorker,
  testHooks,
} from './support.mjs';

const PACKED = join(ROOT, '.cache', 'packed');
const FIXTURE = join(ROOT, '.cache', 'fixtures', 'SmolLM2-135M-Instruct.Q6_K.gguf');

// What the page sees of a fetch: status, size and sha256 of the body (hashed by the page's
// own crypto.subtle, independently of the service worker), and the text of an error.
async function pageFetch(page, url) {
  return page.evaluate(async (url) => {
    const hex = (buf) => [...new Uint8Array(buf)].map((b) => b.toString(16).padStart(2, '0')).join('');
    const r = await fetch(url);
    const body = await r.arrayBuffer();
    return {
      status: r.status,
      size: body.byteLength,
      sha256: hex(await crypto.subtle.digest('SHA-256', body)),
      text: r.ok && body.byteLength > 100_000 ? null : new TextDecoder().decode(body),
    };
  }, url);
}

// The service worker's events, collected in every page from its first script on.
async function recordEvents(context) {
  await context.addInitScript(() => {
    window.swEvents = [];
    if (!navigator.serviceWorker) return;
    navigator.serviceWorker.addEventListener('message', (e) => window.swEvents.push(e.data));
    navigator.serviceWorker.startMessages();
  });
}

// Events arrive on their own channel: wait until `n` of a type are in.
async function events(page, type, n) {
  await page.waitForFunction(([type, n]) => window.swEvents.filter((e) => e.type === type).length >= n, [type, n], {
    timeout: 10_000,
  });
  return page.evaluate((type) => window.swEvents.filter((e) => e.type === type), type);
}

// Direct IndexedDB access from the page (same origin as the service worker's database).
async function storedChunks(page, addOrphan = false) {
  return page.evaluate(
    (addOrphan) =>
      new Promise((resolve, reject) => {
        const open = indexedDB.open('hearth-models');
        open.onerror = () => reject(open.error);
        open.onsuccess = () => {
          const db = open.result;
          const tx = db.transaction('chunks', 'readwrite');
          const store = tx.objectStore('chunks');
          if (addOrphan) store.put(new Blob([new Uint8Array(10)]), 'f'.repeat(64));
          const keys = store.getAllKeys();
          const values = store.getAll();
          tx.oncomplete = () => {
            db.close();
            resolve({ keys: keys.result, blobs: values.result.every((v) => v instanceof Blob) });
          };
          tx.onerror = () => reject(tx.error);
        };
      }),
    addOrphan,
  );
}

async function json(url) {
  const r = await fetch(url);
  assert.equal(r.status, 200, url);
  return r.json();
}

// The packed model a server offers under `base`: its catalog entry, manifest and URLs.
async function packedModel(base) {
  const catalog = await json(new URL('models.json', base));
  const entry = catalog.models[0];
  const manifestUrl = new URL(entry.manifest, base).href;
  const manifest = await json(manifestUrl);
  const chunkUrl = (i) => new URL(manifest.chunks[i].name, manifestUrl).href;
  const chunkPath = (i) => `${entry.id}/${manifest.chunks[i].name}`;
  return { entry, manifestUrl, manifest, chunkUrl, chunkPath, manifestPath: entry.manifest };
}

// One server (with test hooks) and one fresh browser profile, on a page the service worker
// controls.
async function setUp(serverArgs) {
  const server = await startServer(['--test-hooks', ...serverArgs]);
  const browser = await launchBrowser();
  await recordEvents(browser.context);
  await browser.page.goto(server.url);
  await waitForController(browser.page);
  // The page reads the model catalog as it starts; counting starts after that.
  await browser.page.waitForSelector('#model-picker:not([disabled])', { timeout: 60_000 });
  const base = server.modelUrl || new URL('models/', server.url).href;
  const model = await packedModel(base);
  const hooks = testHooks(base);
  await hooks.reset();
  return { server, browser, page: browser.page, base, model, hooks };
}

async function tearDown(env, t) {
  if (!env) return;
  if (t?.failed) console.log(env.browser.logs.join('\n'));
  await env.browser.close();
  await env.server.stop();
}

async function cacheStatus(page) {
  const reply = await askServiceWorker(page, { type: 'cache_status' });
  assert.equal(reply.type, 'cache_status', JSON.stringify(reply));
  return reply.models;
}

// Requests that reached the model server, without the catalog (models.json): the app's model
// picker reads it whenever the page starts, at moments these tests do not control.
async function modelFileRequests(hooks) {
  const counts = await hooks.requests();
  delete counts['models.json'];
  return counts;
}

function assertChunk(got, model, i) {
  const c = model.manifest.chunks[i];
  assert.equal(got.status, 200, `${c.name}: ${got.text}`);
  assert.equal(got.size, c.size, c.name);
  assert.equal(got.sha256, c.sha256, c.name);
}

const sum = (model, indices) => indices.reduce((s, i) => s + model.manifest.chunks[i].size, 0);

describe('chunk proxy, models on the app origin', { timeout: 300_000 }, () => {
  let env;
  let failed = false;
  before(async () => {
    env = await setUp([]);
  });
  after(async () => tearDown(env, { failed }));
  const check = (name, fn) =>
    test(name, async () => {
      try {
        await fn();
      } catch (e) {
        failed = true;
        throw e;
      }
    });

  check('the first fetch of a chunk reaches the server once; its bytes are verified and stored', async () => {
    const { page, model, hooks, server, base } = env;
    // The app's start-up files, fetched online once, so the offline test below can use them.
    const getJson = (url) => page.evaluate((url) => fetch(url).then((r) => r.json()), url);
    assert.equal((await getJson(new URL('config.json', server.url).href)).model_base_url, base);
    assert.equal((await getJson(new URL('models.json', base).href)).models[0].id, model.entry.id);

    const manifest = await getJson(model.manifestUrl);
    assert.deepEqual(manifest, model.manifest);
    for (const i of [0, 1]) assertChunk(await pageFetch(page, model.chunkUrl(i)), model, i);
    assert.deepEqual(await modelFileRequests(hooks), {
      [model.manifestPath]: 1,
      [model.chunkPath(0)]: 1,
      [model.chunkPath(1)]: 1,
    });
    const stored = await events(page, 'chunk_stored', 2);
    assert.deepEqual(
      stored.map((e) => [e.chunk, e.bytes_stored, e.bytes_total]),
      [
        [model.manifest.chunks[0].name, sum(model, [0]), model.manifest.file.size],
        [model.manifest.chunks[1].name, sum(model, [0, 1]), model.manifest.file.size],
      ],
    );
    assert.ok(stored.every((e) => e.manifest_url === model.manifestUrl));
    const db = await storedChunks(page);
    assert.deepEqual(db.keys.sort(), [0, 1].map((i) => model.manifest.chunks[i].sha256).sort());
    assert.ok(db.blobs, 'chunks are stored as Blobs');
  });

  check('stored chunks are answered without the network, also after a reload', async () => {
    const { page, model, hooks } = env;
    await hooks.reset();
    for (const i of [0, 1]) assertChunk(await pageFetch(page, model.chunkUrl(i)), model, i);
    await page.reload();
    await waitForController(page);
    assertChunk(await pageFetch(page, model.chunkUrl(1)), model, 1);
    assert.deepEqual(await modelFileRequests(hooks), {});
  });

  check('concurrent fetches of one chunk share one download', async () => {
    const { page, model, hooks } = env;
    await hooks.reset();
    const hashes = await page.evaluate(async (url) => {
      const hex = (buf) => [...new Uint8Array(buf)].map((b) => b.toString(16).padStart(2, '0')).join('');
      const one = async () => hex(await crypto.subtle.digest('SHA-256', await (await fetch(url)).arrayBuffer()));
      return Promise.all([one(), one(), one(), one()]);
    }, model.chunkUrl(2));
    assert.deepEqual(hashes, Array(4).fill(model.manifest.chunks[2].sha256));
    assert.deepEqual(await modelFileRequests(hooks), { [model.chunkPath(2)]: 1 });
  });

  check('a chunk corrupted once is retried, and the good bytes are answered and stored', async () => {
    const { page, model, hooks } = env;
    await hooks.reset();
    await hooks.faults({ corrupt: { [model.manifest.chunks[3].name]: 1 } });
    assertChunk(await pageFetch(page, model.chunkUrl(3)), model, 3);
    assert.deepEqual(await modelFileRequests(hooks), { [model.chunkPath(3)]: 2 });
    assertChunk(await pageFetch(page, model.chunkUrl(3)), model, 3);
    assert.deepEqual(await modelFileRequests(hooks), { [model.chunkPath(3)]: 2 }, 'the retried chunk was stored');
  });

  check('a chunk corrupted on every attempt is an error naming it, and is not stored', async () => {
    const { page, model, hooks } = env;
    const name = model.manifest.chunks[4].name;
    await hooks.reset();
    await hooks.faults({ corrupt: { [name]: 3 } });
    const got = await pageFetch(page, model.chunkUrl(4));
    assert.equal(got.status, 502);
    assert.match(got.text, new RegExp(`chunk ${name.replace(/\./g, '\\.')} .* failed after 3 attempts: its sha256 is`));
    assert.deepEqual(await modelFileRequests(hooks), { [model.chunkPath(4)]: 3 });
    const [status] = await cacheStatus(page);
    assert.equal(status.chunks_stored, 4, JSON.stringify(status));
    const failures = await events(page, 'chunk_failed', 1);
    assert.deepEqual(
      failures.map((e) => [e.manifest_url, e.chunk, e.message]),
      [[model.manifestUrl, name, got.text]],
    );
  });

  check('a cut connection is retried; cut on every attempt it stores nothing, and a later fetch gets it', async () => {
    const { page, model, hooks } = env;
    await hooks.reset();
    await hooks.faults({ cut: { [model.manifest.chunks[4].name]: 1 } });
    assertChunk(await pageFetch(page, model.chunkUrl(4)), model, 4);
    assert.deepEqual(await modelFileRequests(hooks), { [model.chunkPath(4)]: 2 });

    const name = model.manifest.chunks[5].name;
    await hooks.reset();
    await hooks.faults({ cut: { [name]: 3 } });
    const got = await pageFetch(page, model.chunkUrl(5));
    assert.equal(got.status, 502);
    assert.match(got.text, new RegExp(`chunk ${name.replace(/\./g, '\\.')} .* the network failed after`));
    const [status] = await cacheStatus(page);
    assert.equal(status.chunks_stored, 5, JSON.stringify(status));
    assert.ok(!(await storedChunks(page)).keys.includes(model.manifest.chunks[5].sha256));

    assertChunk(await pageFetch(page, model.chunkUrl(5)), model, 5);
    assert.deepEqual(await modelFileRequests(hooks), { [model.chunkPath(5)]: 4 });
  });

  check('cache status, storage estimate and evictions answer', async () => {
    const { page, model } = env;
    const stored = [0, 1, 2, 3, 4, 5];
    assert.deepEqual(await cacheStatus(page), [
      {
        manifest_url: model.manifestUrl,
        name: model.manifest.model.name,
        chunks_total: model.manifest.chunks.length,
        chunks_stored: stored.length,
        bytes_total: model.manifest.file.size,
        bytes_stored: sum(model, stored),
      },
    ]);
    const estimate = await askServiceWorker(page, { type: 'storage_estimate' });
    assert.equal(estimate.type, 'storage_estimate', JSON.stringify(estimate));
    assert.ok(estimate.usage >= sum(model, stored), JSON.stringify(estimate));
    assert.ok(estimate.quota > estimate.usage, JSON.stringify(estimate));

    assert.deepEqual(await askServiceWorker(page, { type: 'evict_unreferenced' }), {
      type: 'evicted',
      chunks: 0,
      bytes: 0,
    });
    await storedChunks(page, true);
    assert.deepEqual(await askServiceWorker(page, { type: 'evict_unreferenced' }), {
      type: 'evicted',
      chunks: 1,
      bytes: 10,
    });
    assert.equal((await storedChunks(page)).keys.length, stored.length);

    const unknown = await askServiceWorker(page, { type: 'evict_model', manifest_url: 'http://x/net_metadata.json' });
    assert.equal(unknown.type, 'error');
    assert.match(unknown.message, /no known model/);
    const bad = await askServiceWorker(page, { type: 'evict_everything' });
    assert.equal(bad.type, 'error');
  });

  check('offline, with the server stopped: config, catalog, manifest and stored chunks still answer', async () => {
    const { page, model, server, browser, base } = env;
    await server.stop();
    await browser.context.setOffline(true);
    await page.reload();
    await waitForController(page);
    const text = (url) => page.evaluate((url) => fetch(url).then(async (r) => [r.status, await r.text()]), url);
    const [configStatus, config] = await text(new URL('config.json', server.url).href);
    assert.equal(configStatus, 200);
    assert.equal(JSON.parse(config).model_base_url, base);
    const [catalogStatus, catalog] = await text(new URL('models.json', base).href);
    assert.equal(catalogStatus, 200);
    assert.equal(JSON.parse(catalog).models[0].id, model.entry.id);
    const [manifestStatus, manifest] = await text(model.manifestUrl);
    assert.equal(manifestStatus, 200);
    assert.deepEqual(JSON.parse(manifest), model.manifest);
    for (const i of [0, 3, 5]) assertChunk(await pageFetch(page, model.chunkUrl(i)), model, i);
    const missing = await pageFetch(page, model.chunkUrl(8));
    assert.equal(missing.status, 502);
    assert.match(missing.text, /net_part8\.gguf\.chunk .* the network failed/);
  });
});

describe('chunk proxy, models on a second origin', { timeout: 300_000 }, () => {
  let env;
  let failed = false;
  before(async () => {
    env = await setUp(['--model-port', '0']);
  });
  after(async () => tearDown(env, { failed }));

  test('chunks from another origin (CORS) are fetched once, verified, stored and retried the same way', async () => {
    try {
      const { page, model, hooks, server } = env;
      assert.notEqual(new URL(model.manifestUrl).origin, new URL(server.url).origin);
      const manifest = await page.evaluate((url) => fetch(url).then((r) => r.json()), model.manifestUrl);
      assert.deepEqual(manifest, model.manifest);
      assertChunk(await pageFetch(page, model.chunkUrl(0)), model, 0);
      await hooks.faults({ corrupt: { [model.manifest.chunks[1].name]: 1 } });
      assertChunk(await pageFetch(page, model.chunkUrl(1)), model, 1);
      assert.deepEqual(await modelFileRequests(hooks), {
        [model.manifestPath]: 1,
        [model.chunkPath(0)]: 1,
        [model.chunkPath(1)]: 2,
      });
      await hooks.reset();
      for (const i of [0, 1]) assertChunk(await pageFetch(page, model.chunkUrl(i)), model, i);
      assert.deepEqual(await modelFileRequests(hooks), {});
      const [status] = await cacheStatus(page);
      assert.equal(status.manifest_url, model.manifestUrl);
      assert.equal(status.chunks_stored, 2);
      assert.equal(status.bytes_stored, sum(model, [0, 1]));
    } catch (e) {
      failed = true;
      throw e;
    }
  });
});

// Two models sharing a chunk, built from the packed model's real chunks in a folder served
// with --model-dir: `a` lists chunks 0-2, `b` lists chunk 0 and chunk 5. A third folder holds
// a manifest that is not valid.
function manifestOf(real, indices) {
  let offset = 0;
  const chunks = indices.map((i, n) => {
    const c = { ...real.chunks[i], name: `net_part${n}.gguf.chunk`, offset };
    offset += c.size;
    return c;
  });
  return { ...real, file: { size: offset, sha256: real.file.sha256 }, chunks };
}

function modelFolder(dir, id, real, indices) {
  mkdirSync(join(dir, id), { recursive: true });
  const manifest = manifestOf(real, indices);
  writeFileSync(join(dir, id, 'net_metadata.json'), JSON.stringify(manifest));
  indices.forEach((i, n) => {
    const link = join(dir, id, `net_part${n}.gguf.chunk`);
    rmSync(link, { force: true });
    symlinkSync(join(PACKED, realId(), real.chunks[i].name), link);
  });
  return manifest;
}

function ensurePacked() {
  if (existsSync(join(PACKED, 'models.json'))) return;
  const bin = process.env.HEARTH_XTASK;
  const [cmd, args] = bin ? [bin, []] : ['cargo', ['xtask']];
  const r = spawnSync(cmd, [...args, 'pack', FIXTURE, '--out', PACKED], { cwd: ROOT, stdio: 'inherit' });
  assert.equal(r.status, 0, 'xtask pack failed');
}

const realId = () => JSON.parse(readFileSync(join(PACKED, 'models.json'), 'utf8')).models[0].id;

describe('known manifests: shared chunks, changed manifests, evicting a model', { timeout: 300_000 }, () => {
  let env;
  let dir;
  let real;
  let failed = false;
  before(async () => {
    ensurePacked();
    real = JSON.parse(readFileSync(join(PACKED, realId(), 'net_metadata.json'), 'utf8'));
    dir = mkdtempSync(join(tmpdir(), 'hearth-models-'));
    modelFolder(dir, 'a', real, [0, 1, 2]);
    modelFolder(dir, 'b', real, [0, 5]);
    mkdirSync(join(dir, 'c'));
    writeFileSync(join(dir, 'c', 'net_metadata.json'), '{"format_version": 1, "chunks": "none"}');
    symlinkSync(join(PACKED, realId(), real.chunks[6].name), join(dir, 'c', 'net_part0.gguf.chunk'));
    writeFileSync(join(dir, 'models.json'), JSON.stringify({ format_version: 1, models: [] }));

    const server = await startServer(['--test-hooks', '--model-dir', dir]);
    const browser = await launchBrowser();
    await recordEvents(browser.context);
    await browser.page.goto(server.url);
    await waitForController(browser.page);
    const base = new URL('models/', server.url).href;
    env = { server, browser, page: browser.page, base, hooks: testHooks(base) };
  });
  after(async () => {
    await tearDown(env, { failed });
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('identical chunks are stored once; a changed manifest drops chunks nothing references; evict_model keeps shared chunks', async () => {
    try {
      const { page, base, hooks } = env;
      const url = (path) => new URL(path, base).href;
      const fetchJson = (u) => page.evaluate((u) => fetch(u).then((r) => r.json()), u);
      const sha = (i) => real.chunks[i].sha256;
      const size = (i) => real.chunks[i].size;

      await fetchJson(url('a/net_metadata.json'));
      for (let n = 0; n < 3; n++) {
        const got = await pageFetch(page, url(`a/net_part${n}.gguf.chunk`));
        assert.equal(got.sha256, sha(n));
      }
      await fetchJson(url('b/net_metadata.json'));
      await hooks.reset();
      // b's first chunk is a's first chunk: already stored, no download.
      assert.equal((await pageFetch(page, url('b/net_part0.gguf.chunk'))).sha256, sha(0));
      assert.equal((await pageFetch(page, url('b/net_part1.gguf.chunk'))).sha256, sha(5));
      assert.deepEqual(await modelFileRequests(hooks), { 'b/net_part1.gguf.chunk': 1 });
      assert.deepEqual((await storedChunks(page)).keys.sort(), [0, 1, 2, 5].map(sha).sort());

      // A manifest that is not valid is passed through as served, and never becomes known:
      // its chunks go to the network every time.
      const foreign = await page.evaluate((u) => fetch(u).then(async (r) => [r.status, await r.text()]), url('c/net_metadata.json'));
      assert.deepEqual(foreign, [200, '{"format_version": 1, "chunks": "none"}']);
      await hooks.reset();
      for (let k = 0; k < 2; k++) assert.equal((await pageFetch(page, url('c/net_part0.gguf.chunk'))).sha256, sha(6));
      assert.deepEqual(await modelFileRequests(hooks), { 'c/net_part0.gguf.chunk': 2 });

      const statusOf = async () =>
        Object.fromEntries((await cacheStatus(page)).map((m) => [new URL(m.manifest_url).pathname, m]));
      let status = await statusOf();
      assert.deepEqual(Object.keys(status).sort(), ['/models/a/net_metadata.json', '/models/b/net_metadata.json']);
      assert.equal(status['/models/a/net_metadata.json'].chunks_stored, 3);
      assert.equal(status['/models/b/net_metadata.json'].bytes_stored, size(0) + size(5));

      // b goes: its own chunk 5 is deleted, the shared chunk 0 stays for a.
      assert.deepEqual(await askServiceWorker(page, { type: 'evict_model', manifest_url: url('b/net_metadata.json') }), {
        type: 'evicted',
        chunks: 1,
        bytes: size(5),
      });
      assert.deepEqual((await storedChunks(page)).keys.sort(), [0, 1, 2].map(sha).sort());
      status = await statusOf();
      assert.deepEqual(Object.keys(status), ['/models/a/net_metadata.json']);

      // a's manifest changes on the server to chunks 0-1: chunk 2 is no longer referenced.
      modelFolder(dir, 'a', real, [0, 1]);
      const changed = await fetchJson(url('a/net_metadata.json'));
      assert.equal(changed.chunks.length, 2);
      assert.deepEqual((await storedChunks(page)).keys.sort(), [0, 1].map(sha).sort());
      status = await statusOf();
      assert.equal(status['/models/a/net_metadata.json'].chunks_total, 2);
      assert.equal(status['/models/a/net_metadata.json'].chunks_stored, 2);
      assert.deepEqual(await askServiceWorker(page, { type: 'evict_unreferenced' }), {
        type: 'evicted',
        chunks: 0,
        bytes: 0,
      });
    } catch (e) {
      failed = true;
      throw e;
    }
  });
});

describe('a full quota', { timeout: 300_000 }, () => {
  let env;
  let failed = false;
  before(async () => {
    env = await setUp([]);
  });
  after(async () => tearDown(env, { failed }));

  test('a chunk the quota cannot hold is an error saying storage is full, and nothing is stored', async () => {
    try {
      const { page, model, server, browser } = env;
      const cdp = await browser.context.newCDPSession(page);
      const origin = new URL(server.url).origin;
      // What the app shell already uses plus 4 MiB: a 16 MiB chunk cannot fit.
      const { usage } = await page.evaluate(() => navigator.storage.estimate());
      await cdp.send('Storage.overrideQuotaForOrigin', { origin, quotaSize: usage + (4 << 20) });
      await page.evaluate((url) => fetch(url).then((r) => r.json()), model.manifestUrl);
      const name = model.manifest.chunks[0].name;
      const got = await pageFetch(page, model.chunkUrl(0));
      assert.equal(got.status, 507, got.text);
      assert.match(got.text, new RegExp(`chunk ${name.replace(/\./g, '\\.')} .*: storage is full`));
      assert.deepEqual((await storedChunks(page)).keys, []);
      const [failure] = await events(page, 'chunk_failed', 1);
      assert.equal(failure.message, got.text);

      await cdp.send('Storage.overrideQuotaForOrigin', { origin });
      assertChunk(await pageFetch(page, model.chunkUrl(0)), model, 0);
      assert.equal((await storedChunks(page)).keys.length, 1);
    } catch (e) {
      failed = true;
      throw e;
    }
  });
});
