// The model on the CPU (WebAssembly), with the real SmolLM2-135M-Instruct Q6_K: in a Chromium
// without WebGPU the automatic setting loads it on the CPU, says why and what would be faster,
// and the chat answers (greedy ids equal to the native CPU reference), stops, and answers again
// after an offline reload; with WebGPU, the "Where the model runs" setting moves the loaded
// model between the CPU and the GPU without downloading it again.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  ARTIFACTS,
  startServer,
  launchBrowser,
  nativeReply,
  assertSameReply,
  waitForStart,
  chunkRequests,
  waitForModel,
  openSettings,
  closeSettings,
} from './support.mjs';

const PROMPT = 'What is the capital of France?';
// A slow machine runs these: few tokens.
const TOKENS = 3;
// A reply long enough to still be running when Stop is pressed.
const LONG_REPLY = 400;
const MINUTES = 60_000;

// Every `hearth:model` event, from before the app starts.
function recordModelEvents(page) {
  return page.addInitScript(() => {
    window.__modelEvents = [];
    window.addEventListener('hearth:model', (e) => window.__modelEvents.push(e.detail));
  });
}

const lastModelEvent = (page) => page.evaluate(() => window.__modelEvents.at(-1));

// Greedy replies of at most `maxTokens`, set through the settings dialog.
async function greedySettings(page, maxTokens = TOKENS) {
  await openSettings(page);
  await page.fill('#setting-temperature', '0');
  await page.fill('#setting-max_tokens', String(maxTokens));
  await page.fill('#setting-repetition_penalty', '1');
  await closeSettings(page);
}

// Chooses where the model runs in the settings dialog, by its label as a user would.
async function chooseBackend(page, label) {
  await openSettings(page);
  await page.getByRole('radio', { name: label }).check();
  await closeSettings(page);
}

const checkedBackend = (page) => page.$eval('#backend-choice input:checked', (r) => r.value);

function replies(page) {
  return page.$$eval('#messages article.message[data-role="assistant"]', (list) =>
    list.map((m) => ({
      state: m.dataset.state,
      text: m.querySelector('.message-body').textContent,
      ids: m.dataset.tokenIds === undefined ? null : m.dataset.tokenIds.split(',').filter(Boolean).map(Number),
      stop: m.dataset.stop ?? null,
    })),
  );
}

// Sends `text` and waits for the reply at `index` (among the replies) to finish.
async function ask(page, text, index, { stopEarly = false } = {}) {
  await page.fill('#prompt', text);
  await page.press('#prompt', 'Enter');
  if (stopEarly) {
    await page.waitForFunction(
      () => document.querySelector('#messages article[data-state="streaming"] .message-body')?.textContent.trim(),
      null,
      { timeout: 10 * MINUTES },
    );
    await page.click('#stop');
  }
  await page.waitForFunction(
    (index) => {
      const m = document.querySelectorAll('#messages article.message[data-role="assistant"]')[index];
      return m && m.dataset.state !== 'streaming' && m.dataset.state !== undefined
        && (m.dataset.tokenIds !== undefined || m.dataset.state === 'error');
    },
    index,
    { timeout: 10 * MINUTES },
  );
  return (await replies(page))[index];
}

test('without WebGPU: automatic loads on the CPU, says why, answers like the native CPU engine, stops, works offline', { timeout: 40 * MINUTES }, async (t) => {
  mkdirSync(ARTIFACTS, { recursive: true });
  const native = nativeReply(PROMPT, TOKENS, { backend: 'cpu' });
  const server = await startServer();
  const browser = await launchBrowser({ webgpu: false });
  t.after(async () => {
    await browser.close();
    await server.stop();
  });
  const { context, page, errors } = browser;
  await recordModelEvents(page);
  await page.goto(server.url);
  await waitForStart(page);

  // This browser has no WebGPU adapter; the start-up line says so softly, not as an error.
  assert.equal(await page.evaluate(async () => (await navigator.gpu?.requestAdapter()) ?? null), null);
  const gpuStatus = page.locator('#gpu-status');
  assert.equal(await gpuStatus.getAttribute('data-state'), 'cpu');
  assert.match(await gpuStatus.textContent(), /no WebGPU, so models run on the CPU/);

  await greedySettings(page);
  await openSettings(page);
  assert.equal(await checkedBackend(page), 'auto', 'automatic is the default');
  await closeSettings(page);

  // The load screen offers the download (nothing blocks it) and says where the model runs.
  const download = page.locator('#load-download');
  await download.waitFor({ state: 'visible', timeout: 2 * MINUTES });
  assert.ok(await page.locator('#load-error').isHidden());
  assert.match(await page.textContent('#load-model'), /otherwise on the CPU/);
  await download.click();
  await waitForModel(page, 'ready');
  assert.equal(await page.getAttribute('body', 'data-backend'), 'cpu');
  const ready = await lastModelEvent(page);
  assert.equal(ready.state, 'ready');
  assert.equal(ready.backend, 'cpu');
  assert.equal(ready.adapter, null);
  assert.equal(ready.fallback, 'no_web_gpu', JSON.stringify(ready));
  assert.ok(ready.fallback_detail.length > 0);
  assert.match(await page.textContent('#model-status'), /runs on the CPU \(WebAssembly SIMD, one thread\)/);

  // The notice: why (the engine's reason), slower, and which browsers would be faster.
  const notice = page.locator('#backend-notice');
  assert.ok(await notice.isVisible(), 'the fallback notice shows');
  const said = await notice.textContent();
  // The reason's words (its technical part in parentheses is shown apart), as a sentence.
  const reason = ready.fallback_detail.trim().split(' (')[0].replace(/[.!?]$/, '').slice(1);
  assert.ok(reason.length > 0 && said.includes(reason), `${said} / ${ready.fallback_detail}`);
  assert.match(said, /slower/);
  assert.match(said, /Chrome or Edge 113/);
  assert.match(said, /--enable-unsafe-webgpu --enable-features=Vulkan/);
  await page.screenshot({ path: join(ARTIFACTS, 'cpu-fallback.png') });

  // A greedy reply streams and equals the native CPU reference.
  const first = await ask(page, PROMPT, 0);
  assert.equal(first.state, 'done', JSON.stringify(first));
  assertSameReply(first.ids, native);

  // Stop ends a reply after its first text (a long one: the CPU writes a few tokens quickly).
  await greedySettings(page, LONG_REPLY);
  const stopped = await ask(page, 'Tell me a long story about Paris.', 1, { stopEarly: true });
  assert.equal(stopped.stop, 'cancelled', JSON.stringify(stopped));
  assert.ok(stopped.ids.length > 0 && stopped.ids.length < LONG_REPLY, JSON.stringify(stopped));
  await greedySettings(page);

  // Dismissed, the notice stays away for the same reason, also after a reload.
  await page.click('#backend-notice-dismiss');
  assert.ok(await notice.isHidden());
  assert.equal(await page.evaluate(() => document.activeElement.id), 'prompt');

  // Offline: the stored model loads on the CPU by itself and answers.
  await server.stop();
  await context.setOffline(true);
  await page.reload();
  await waitForModel(page, 'ready');
  assert.equal(await page.getAttribute('body', 'data-backend'), 'cpu');
  assert.ok(await notice.isHidden(), 'a dismissed notice stays dismissed');
  const offline = await ask(page, 'And of Spain?', 2);
  assert.equal(offline.state, 'done', JSON.stringify(offline));
  assert.ok(offline.ids.length > 0);
  assert.deepEqual(errors, []);
});

test('with WebGPU: the setting moves the model to the CPU and back to the GPU, from storage', { timeout: 30 * MINUTES }, async (t) => {
  mkdirSync(ARTIFACTS, { recursive: true });
  const server = await startServer(['--test-hooks']);
  const browser = await launchBrowser();
  t.after(async () => {
    await browser.close();
    await server.stop();
  });
  const { page, errors } = browser;
  await recordModelEvents(page);
  await page.goto(server.url);
  await waitForStart(page);
  assert.equal(await page.getAttribute('#gpu-status', 'data-state'), 'ready');

  // CPU, chosen before anything is loaded: the next load runs there.
  await page.locator('#load-download').waitFor({ state: 'visible', timeout: 2 * MINUTES });
  await chooseBackend(page, /^CPU/);
  assert.match(await page.textContent('#load-model'), /on the CPU \(WebAssembly\)/);
  await page.click('#load-download');
  await waitForModel(page, 'ready');
  assert.equal(await page.getAttribute('body', 'data-backend'), 'cpu');
  let ready = await lastModelEvent(page);
  assert.equal(ready.backend, 'cpu');
  assert.equal(ready.fallback, null, 'a chosen CPU is no fallback');
  assert.ok(await page.locator('#backend-notice').isHidden());
  const downloaded = await chunkRequests(server);
  assert.ok(downloaded > 0);

  // The choice is kept: the dialog shows it, and where the model runs now.
  await openSettings(page);
  assert.equal(await checkedBackend(page), 'cpu');
  assert.match(await page.textContent('#backend-now'), /runs on the CPU/);
  await page.locator('#backend-settings').screenshot({ path: join(ARTIFACTS, 'backend-setting.png') });

  // GPU: the loaded model loads again on the GPU, from storage.
  const before = await page.evaluate(() => window.__modelEvents.length);
  await page.getByRole('radio', { name: /^GPU/ }).check();
  assert.match(await page.textContent('#backend-message'), /again from this device/);
  await page.waitForSelector('body[data-model="ready"][data-backend="gpu"]', { state: 'attached', timeout: 10 * MINUTES });
  const states = await page.evaluate((n) => window.__modelEvents.slice(n).map((e) => e.state), before);
  assert.deepEqual(states, ['loading', 'ready']);
  ready = await lastModelEvent(page);
  assert.equal(ready.backend, 'gpu');
  assert.equal(typeof ready.adapter, 'string');
  assert.match(await page.textContent('#backend-now'), /runs on the GPU \(/);
  await closeSettings(page);
  const status = await page.textContent('#model-status');
  assert.ok(status.includes(`runs on the GPU (${ready.adapter})`), status);
  assert.equal(await chunkRequests(server), downloaded, 'nothing downloaded again');

  // Kept across a reload: the stored model loads by itself on the GPU.
  await page.reload();
  await waitForModel(page, 'ready');
  assert.equal(await page.getAttribute('body', 'data-backend'), 'gpu');
  assert.deepEqual(errors, []);
});
