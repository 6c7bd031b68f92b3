// The models' part of the page, driven through its controls like a user, with the real
// SmolLM2-135M-Instruct Q6_K: the load screen (nothing downloads before a click; stage, bytes,
// percent and the `<progress>`; Cancel), the model becoming ready, a reload that loads the
// stored model by itself, the stored-models panel (size on disk, Delete), a GGUF file opened
// from this device without any request to the server, bad files explained in words, and a
// browser without WebGPU: the GPU setting explains what works, automatic runs on the CPU; a
// device that reports little memory is warned before the download.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  ARTIFACTS,
  ROOT,
  startServer,
  launchBrowser,
  chunkRequests,
  waitForModel,
} from './support.mjs';

const MODEL = join(ROOT, '.cache', 'fixtures', 'SmolLM2-135M-Instruct.Q6_K.gguf');
const LONG = { timeout: 600_000 };

// Records what the load screen shows and every `hearth:model` event, from before the app starts.
function recordLoadScreen(page) {
  return page.addInitScript(() => {
    window.__models = { events: [], screens: [] };
    window.addEventListener('hearth:model', (e) => window.__models.events.push(e.detail));
    const snapshot = () => {
      const text = (id) => document.getElementById(id)?.textContent ?? '';
      const progress = document.getElementById('load-progress');
      const shot = {
        stage: text('load-stage'),
        numbers: text('load-numbers'),
        value: progress && !progress.hidden ? progress.value : null,
      };
      const last = window.__models.screens.at(-1);
      if (!last || last.stage !== shot.stage || last.numbers !== shot.numbers || last.value !== shot.value) {
        window.__models.screens.push(shot);
      }
    };
    document.addEventListener('DOMContentLoaded', () => {
      const screen = document.getElementById('load-screen');
      new MutationObserver(snapshot).observe(screen, {
        subtree: true, childList: true, characterData: true, attributes: true,
      });
    });
  });
}

const recorded = (page) => page.evaluate(() => window.__models);

// The app served with test hooks, open in a fresh browser whose load screen is recorded.
async function openApp(t) {
  const server = await startServer(['--test-hooks']);
  const browser = await launchBrowser();
  t.after(async () => {
    await browser.close();
    await server.stop();
  });
  const { page } = browser;
  await recordLoadScreen(page);
  await page.goto(server.url);
  return { server, browser, page };
}

test('download through the load screen, ready, reload loads by itself, stored-models panel deletes', LONG, async (t) => {
  const { server, page } = await openApp(t);

  // Nothing is stored: the load screen offers the download and nothing is fetched until asked.
  const download = page.locator('#load-download');
  await download.waitFor({ state: 'visible', timeout: 120_000 });
  const [model] = await page.evaluate(() => window.hearth.catalog());
  assert.equal(await download.textContent(), `Download ${Math.round(model.size / 1e6)} MB`);
  const picker = await page.locator('#model-picker option').allTextContents();
  assert.ok(picker.some((o) => o.includes(model.model.name) && o.includes(model.model.quantization)), JSON.stringify(picker));
  assert.equal(await page.getAttribute('body', 'data-model'), 'none');
  assert.equal(await chunkRequests(server), 0, 'no download before the click');

  // Cancel right after Download: the load stops and the screen says so.
  await download.click();
  await page.locator('#load-cancel').click();
  await waitForModel(page, 'none');
  await page.waitForFunction(() => document.getElementById('load-stage').textContent.includes('cancelled'));
  await download.waitFor({ state: 'visible' });

  // Download for real; the screen shows the stage, bytes and percent as they change.
  await download.click();
  await page.waitForFunction(() => {
    const p = document.getElementById('load-progress');
    return !p.hidden && p.value > 0 && p.value < 100;
  }, null, { timeout: 300_000 });
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.locator('#load-screen').screenshot({ path: join(ARTIFACTS, 'load-screen.png') });
  await waitForModel(page, 'ready');
  assert.ok(await page.locator('#load-screen').isHidden(), 'the load screen goes once the model is ready');

  const { events, screens } = await recorded(page);
  const stages = new Set(screens.map((s) => s.stage));
  assert.ok([...stages].some((s) => s.includes('Downloading and verifying')), JSON.stringify([...stages]));
  // An automatic load may run on either backend, so its words name neither.
  assert.ok([...stages].some((s) => s.includes('Finishing loading the model')), JSON.stringify([...stages]));
  assert.ok(![...stages].some((s) => s.includes('GPU')), JSON.stringify([...stages]));
  const numbers = screens.map((s) => s.numbers).filter((n) => n.includes('%'));
  assert.ok(new Set(numbers).size >= 3, JSON.stringify(numbers));
  assert.ok(numbers.some((n) => / · 100%/.test(n)), JSON.stringify(numbers.slice(-3)));
  const values = screens.map((s) => s.value).filter((v) => v !== null);
  assert.ok(values.some((v) => v > 0 && v < 100) && values.includes(100), JSON.stringify(values));
  const states = events.map((e) => e.state);
  assert.deepEqual(states.slice(-2), ['loading', 'ready'], JSON.stringify(events));
  const ready = events.at(-1);
  assert.equal(ready.id, model.id);
  assert.equal(ready.name, model.model.name);
  assert.ok(ready.context > 0, JSON.stringify(ready));
  const chunks = Math.ceil(model.size / (16 << 20));
  const fetched = await chunkRequests(server);
  assert.ok(fetched >= chunks, `${fetched} chunk requests for ${chunks} chunks`);

  // Reload: the remembered, stored model loads by itself, with no download.
  await page.reload();
  await waitForModel(page, 'ready');
  assert.equal(await chunkRequests(server), fetched, 'nothing downloaded on reload');
  assert.equal(await page.getAttribute('body', 'data-model-id'), model.id);

  // The stored-models panel lists it with its size on disk; Delete removes it.
  await page.locator('#settings-button').click();
  const item = page.locator('#stored-models li', { hasText: model.model.name });
  await item.waitFor({ timeout: 30_000 });
  assert.match(await item.textContent(), new RegExp(`${Math.round(model.size / 1e6)} MB on disk`));
  await page.waitForFunction(() => document.getElementById('storage-estimate').textContent.includes('This site uses'));
  assert.match(await page.locator('#storage-persistence').textContent(), /persistent/);
  await item.getByRole('button', { name: `Delete ${model.model.name}` }).click();
  await page.locator('#stored-models li', { hasText: 'No models are stored' }).waitFor({ timeout: 30_000 });
  const status = await page.evaluate(() => window.hearth.cacheStatus());
  assert.ok(status.every((m) => m.chunks_stored === 0), JSON.stringify(status));
});

test('a GGUF file from this device loads without the server; bad files are explained', LONG, async (t) => {
  const { server, page } = await openApp(t);
  await page.locator('#load-download').waitFor({ state: 'visible', timeout: 120_000 });

  // The file picker.
  await page.setInputFiles('#model-file', MODEL);
  await waitForModel(page, 'ready');
  assert.equal(await chunkRequests(server), 0, 'a local file fetches no chunk');
  assert.equal(await page.getAttribute('body', 'data-model-name'), 'Smollm2 135M 8k Lc100K Mix1 Ep2');
  const { screens } = await recorded(page);
  assert.ok(screens.some((s) => s.stage.includes('Reading the file')), JSON.stringify(screens.slice(0, 5)));
  assert.ok(screens.some((s) => s.value === 100));

  // A truncated file, through the file picker.
  const head = readFileSync(MODEL).subarray(0, 3 << 20);
  await page.setInputFiles('#model-file', { name: 'truncated.gguf', mimeType: 'application/octet-stream', buffer: head });
  await waitForModel(page, 'error');
  assert.equal(await page.locator('#load-error-title').textContent(), 'This model file cannot be used.');
  const truncated = await page.locator('#load-error-detail').textContent();
  assert.match(truncated, /truncated\.gguf/);
  assert.match(await page.locator('#load-error-action').textContent(), /GGUF file of a Llama-family model/);

  // Garbage, dropped on the page.
  await page.evaluate(() => {
    const data = new DataTransfer();
    data.items.add(new File([new Uint8Array(4096).fill(120)], 'garbage.gguf'));
    window.dispatchEvent(new DragEvent('drop', { dataTransfer: data, cancelable: true, bubbles: true }));
  });
  await page.waitForFunction(() => document.getElementById('load-error-detail').textContent.includes('garbage.gguf'));
  assert.match(await page.locator('#load-error-detail').textContent(), /not a GGUF file/);
  assert.equal(await page.getAttribute('body', 'data-model'), 'error');
  assert.equal(await chunkRequests(server), 0);
});

test('without WebGPU: the GPU setting explains which browsers work, automatic loads on the CPU', LONG, async (t) => {
  const server = await startServer();
  const browser = await launchBrowser({ webgpu: false });
  t.after(async () => {
    await browser.close();
    await server.stop();
  });
  const { page } = browser;
  // No WebGPU at all on the page (as in a browser that does not have it).
  await page.addInitScript(() => {
    delete Navigator.prototype.gpu;
  });
  await page.goto(server.url);
  await page.waitForSelector('#gpu-status[data-state="cpu"]', { timeout: 120_000 });
  assert.match(await page.textContent('#gpu-status'), /no WebGPU, so models run on the CPU/);
  const download = page.locator('#load-download');
  await download.waitFor({ state: 'visible', timeout: 120_000 });
  assert.ok(await page.locator('#load-error').isHidden(), 'no WebGPU is no error with the automatic setting');

  // The GPU only: the load screen says which browsers and flags work, and that the CPU does.
  await page.click('#settings-button');
  await page.getByRole('radio', { name: /^GPU/ }).check();
  await page.click('#settings-close');
  await waitForModel(page, 'error');
  assert.ok(await page.locator('#load-error').isVisible());
  assert.match(await page.locator('#load-error-title').textContent(), /WebGPU is not available/);
  const action = await page.locator('#load-error-action').textContent();
  assert.match(action, /Chrome or Edge 113/);
  assert.match(action, /--enable-unsafe-webgpu --enable-features=Vulkan/);
  assert.match(action, /“CPU”/);

  // Back to automatic: the download is offered again and the model runs on the CPU.
  await page.click('#settings-button');
  await page.getByRole('radio', { name: /^Automatic/ }).check();
  await page.click('#settings-close');
  await download.waitFor({ state: 'visible' });
  assert.ok(await page.locator('#load-error').isHidden());
  await download.click();
  await waitForModel(page, 'ready');
  assert.equal(await page.getAttribute('body', 'data-backend'), 'cpu');
  assert.ok(await page.locator('#backend-notice').isVisible(), 'the fallback is explained');
});

test('a device that reports little memory is told before the download', LONG, async (t) => {
  const server = await startServer([]);
  const browser = await launchBrowser();
  t.after(async () => {
    await browser.close();
    await server.stop();
  });
  const { page } = browser;
  // As a small phone's Chromium would report it (GB); SmolLM2 needs about 0.17 GB.
  await page.addInitScript(() => {
    Object.defineProperty(Navigator.prototype, 'deviceMemory', { get: () => 0.25 });
  });
  await page.goto(server.url);
  await page.locator('#load-download').waitFor({ state: 'visible', timeout: 120_000 });
  const note = await page.textContent('#load-stage');
  assert.match(note, /needs about 0\.2 GB of memory and this device reports 0\.25 GB/);
  assert.match(note, /a smaller model is safer/);
});
