// Shared set-up for Hearth's browser tests: the real dev server (`cargo xtask serve`) and
// Debian's Chromium with WebGPU on SwiftShader, driven by playwright-core.
import { spawn, spawnSync } from 'node:child_process';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

// Screenshots and other files a run leaves for people to look at: under cargo's build folder
// (CARGO_TARGET_DIR when set, as `cargo xtask` reads it), which git ignores.
export const ARTIFACTS = join(resolve(ROOT, process.env.CARGO_TARGET_DIR || 'target'), 'e2e-artifacts');

// What gives Chromium a WebGPU adapter here (SwiftShader through Vulkan).
export const WEBGPU_ARGS = [
  '--enable-unsafe-webgpu',
  '--enable-features=Vulkan',
  '--use-vulkan=swiftshader',
  '--use-webgpu-adapter=swiftshader',
];

export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu-sandbox',
  ...WEBGPU_ARGS,
  '--use-angle=swiftshader',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/// Starts `xtask serve --no-build` on free ports; resolves with { url, modelUrl, stop }.
export async function startServer(extraArgs = []) {
  const bin = process.env.HEARTH_XTASK;
  const [cmd, args] = bin
    ? [bin, ['serve', '--no-build', '--port', '0', ...extraArgs]]
    : ['cargo', ['xtask', 'serve', '--no-build', '--port', '0', ...extraArgs]];
  const child = spawn(cmd, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  let output = '';
  const started = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${output}`)), 60_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited (${code}):\n${output}`));
    });
    child.stdout.on('data', (d) => {
      output += d;
      const app = output.match(/Serving Hearth at (\S+)/);
      if (app) {
        clearTimeout(timer);
        const models = output.match(/Serving models at (\S+)/);
        resolve({ url: app[1], modelUrl: models ? models[1] : null });
      }
    });
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  // Idempotent: tests stop the server mid-way to go offline, and again when they finish.
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
  };
  try {
    return { ...(await started), stop };
  } catch (e) {
    child.kill('SIGKILL');
    throw e;
  }
}

/// A fresh browser profile; resolves with { context, page, logs, errors, close }. With
/// `thirdPartyStorage`, the profile allows third-party cookies, so cross-site frames get
/// (partitioned) storage instead of none. With `webgpu: false`, Chromium starts without the
/// flags that give it a WebGPU adapter: `navigator.gpu` exists but finds no adapter, as in
/// a browser whose GPU WebGPU does not support.
export async function launchBrowser({ thirdPartyStorage = false, webgpu = true } = {}) {
  const profile = mkdtempSync(join(tmpdir(), 'hearth-profile-'));
  if (thirdPartyStorage) {
    mkdirSync(join(profile, 'Default'));
    writeFileSync(
      join(profile, 'Default', 'Preferences'),
      JSON.stringify({ profile: { cookie_controls_mode: 0, block_third_party_cookies: false } }),
    );
  }
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.HEARTH_CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: webgpu ? CHROMIUM_ARGS : CHROMIUM_ARGS.filter((a) => !WEBGPU_ARGS.includes(a)),
  });
  const logs = [];
  const errors = [];
  context.on('console', (m) => logs.push(`[${m.type()}] ${m.text()}`));
  const page = context.pages()[0] || (await context.newPage());
  page.on('pageerror', (e) => errors.push(String(e)));
  const close = async () => {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
  };
  return { context, page, logs, errors, close };
}

/// Resolves once a service worker controls the page (on a first visit: after it installed and
/// claimed the page).
export async function waitForController(page) {
  await page.waitForFunction(() => navigator.serviceWorker?.controller != null, null, { timeout: 60_000 });
}

/// Sends a control message to the page's service worker and resolves with its reply (on a
/// MessageChannel, as the app does).
export async function askServiceWorker(page, message) {
  return page.evaluate(
    (message) =>
      new Promise((resolve, reject) => {
        const channel = new MessageChannel();
        channel.port1.onmessage = (e) => resolve(e.data);
        setTimeout(() => reject(new Error(`no reply from the service worker to ${message.type}`)), 30_000);
        navigator.serviceWorker.controller.postMessage(message, [channel.port2]);
      }),
    message,
  );
}

/// The test hooks of a server started with `--test-hooks`, on the model routes under `base`
/// (the model base URL, ending in `/`): request counts per model file path and fault injection.
export function testHooks(base) {
  const call = async (path, body) => {
    const r = await fetch(new URL(`__test/${path}`, base), body === undefined ? {} : {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    if (!r.ok) throw new Error(`${path}: HTTP ${r.status}`);
    return r.status === 204 ? null : r.json();
  };
  return {
    requests: () => call('requests'),
    reset: () => call('reset', {}),
    /// e.g. { corrupt: { 'net_part1.gguf.chunk': 1 }, cut: { 'net_part2.gguf.chunk': 3 } }
    faults: (faults) => call('faults', faults),
  };
}

/// The packed model's source file, which `cargo xtask generate` runs natively.
export const MODEL_FILE = join(ROOT, '.cache', 'fixtures', 'SmolLM2-135M-Instruct.Q6_K.gguf');

/// The native engine's greedy reply to `prompt`, with each step's top-1 − top-2 logit margin:
/// { prompt_ids, ids, text, margins }. `backend` is `gpu` (the WebGPU engine on lavapipe, the
/// reference for the browser's GPU path) or `cpu` (the f32 CPU reference, for its CPU path).
export function nativeReply(prompt, maxTokens, { backend = 'gpu' } = {}) {
  const [cmd, pre] = process.env.HEARTH_XTASK ? [process.env.HEARTH_XTASK, []] : ['cargo', ['xtask']];
  const run = spawnSync(
    cmd,
    [
      ...pre, 'generate', '--model', MODEL_FILE, '--prompt', prompt, '--max-tokens', String(maxTokens),
      '--backend', backend, '--json',
    ],
    { cwd: ROOT, encoding: 'utf8', maxBuffer: 1 << 24 },
  );
  assert.equal(run.status, 0, run.stderr);
  const lines = run.stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]);
}

/// Ids compared up to the first step where the native run's own top-2 logits are within 1e-3:
/// SwiftShader and lavapipe (or the browser's and the native CPU code) sum in different
/// orders, so an exact tie may flip.
export function assertSameReply(browserIds, native) {
  let steps = native.ids.length;
  const close = native.margins.findIndex((m) => m < 1e-3);
  if (close >= 0) steps = close + 1;
  assert.ok(steps > 0);
  assert.deepEqual(browserIds.slice(0, steps), native.ids.slice(0, steps));
}

/// Resolves once the page's start-up finished (service worker controlling, engine checked).
export async function waitForStart(page) {
  await page.waitForSelector('#offline-status[data-state="ready"]', { timeout: 60_000 });
  await page.evaluate(() => window.hearth.started);
}

/// How many chunk requests reached the model server (started with `--test-hooks`).
export async function chunkRequests(server) {
  const base = server.modelUrl ?? new URL('models/', server.url).href;
  const counts = await (await fetch(new URL('__test/requests', base))).json();
  return Object.entries(counts)
    .filter(([path]) => path.endsWith('.gguf.chunk'))
    .reduce((sum, [, n]) => sum + n, 0);
}

/// Resolves once `body[data-model]` is `state` (`none`, `loading`, `ready` or `error`).
export async function waitForModel(page, state) {
  await page.waitForSelector(`body[data-model="${state}"]`, { state: 'attached', timeout: 600_000 });
}

/// Opens the settings dialog through its button.
export async function openSettings(page) {
  await page.click('#settings-button');
  await page.waitForSelector('#settings[open]');
}

/// Closes the settings dialog through its button.
export async function closeSettings(page) {
  await page.click('#settings-close');
  await page.waitForSelector('#settings:not([open])', { state: 'attached' });
}
