// Hearth as an installable app: manifest and icons, a controlling service worker and no
// installability errors from Chromium; the install button, the offline indicator, the
// "update available" bar when a changed sw.js is waiting; and one engine owner across tabs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, startServer, launchBrowser, waitForController } from './support.mjs';

const MINUTES = 60_000;

async function waitForStart(page) {
  await page.waitForSelector('#offline-status[data-state="ready"]', { timeout: 2 * MINUTES });
  await page.evaluate(() => window.hearth.started);
}

test('installable: manifest, icons, service worker, no installability errors; install, offline and update UI', { timeout: 15 * MINUTES }, async (t) => {
  const server = await startServer();
  const browser = await launchBrowser();
  const swPath = join(ROOT, 'dist', 'sw.js');
  const sw = readFileSync(swPath, 'utf8');
  t.after(async () => {
    writeFileSync(swPath, sw);
    await browser.close();
    await server.stop();
  });
  const { context, page } = browser;
  await page.goto(server.url);
  await waitForController(page);
  await waitForStart(page);

  // The manifest is linked and complete; its icons are PNGs of the sizes it names.
  const href = await page.getAttribute('link[rel="manifest"]', 'href');
  const manifestUrl = new URL(href, server.url);
  const manifest = await (await fetch(manifestUrl)).json();
  for (const key of ['name', 'short_name', 'description', 'start_url', 'scope', 'theme_color', 'background_color']) {
    assert.ok(manifest[key], `manifest has ${key}`);
  }
  assert.equal(manifest.display, 'standalone');
  const png = manifest.icons.filter((i) => i.type === 'image/png');
  const want = [['192x192', 'any'], ['512x512', 'any'], ['512x512', 'maskable']];
  for (const [sizes, purpose] of want) {
    const icon = png.find((i) => i.sizes === sizes && i.purpose.split(' ').includes(purpose));
    assert.ok(icon, `a ${purpose} ${sizes} PNG icon`);
    const bytes = Buffer.from(await (await fetch(new URL(icon.src, manifestUrl))).arrayBuffer());
    assert.equal(bytes.subarray(1, 4).toString(), 'PNG', icon.src);
    const [w, h] = [bytes.readUInt32BE(16), bytes.readUInt32BE(20)];
    assert.equal(`${w}x${h}`, sizes, icon.src);
  }

  // Chromium's own verdict.
  const cdp = await context.newCDPSession(page);
  const parsed = await cdp.send('Page.getAppManifest');
  assert.deepEqual(parsed.errors, [], JSON.stringify(parsed.errors));
  const { installabilityErrors } = await cdp.send('Page.getInstallabilityErrors');
  assert.deepEqual(installabilityErrors, [], JSON.stringify(installabilityErrors));

  // Install button: shown when the browser offers installation, then it shows the prompt.
  // (Chromium may or may not have offered it by itself by now.) The offer is one whose
  // prompt() records the call, so no real dialog opens.
  await page.evaluate(() => {
    const offer = new Event('beforeinstallprompt', { cancelable: true });
    offer.prompt = () => {
      window.promptShown = true;
      return Promise.resolve();
    };
    window.dispatchEvent(offer);
  });
  await page.waitForSelector('#install-button', { state: 'visible', timeout: 10_000 });
  await page.click('#install-button');
  assert.equal(await page.evaluate(() => window.promptShown), true);
  assert.equal(await page.isHidden('#install-button'), true);

  // Offline indicator follows the network.
  assert.equal(await page.isHidden('#offline-indicator'), true);
  await context.setOffline(true);
  await page.waitForSelector('#offline-indicator[data-state="offline"]', { state: 'visible', timeout: 10_000 });
  await context.setOffline(false);
  await page.waitForSelector('#offline-indicator', { state: 'hidden', timeout: 10_000 });

  // A changed sw.js installs and waits; the bar offers it; Reload activates it and reloads.
  assert.equal(await page.isHidden('#update-bar'), true);
  writeFileSync(swPath, `${sw}\n// a new deployment\n`);
  await page.evaluate(async () => {
    const registration = await navigator.serviceWorker.ready;
    await registration.update();
  });
  await page.waitForSelector('#update-bar', { state: 'visible', timeout: 5 * MINUTES });
  await page.evaluate(() => (window.beforeUpdate = true));
  await Promise.all([page.waitForEvent('load', { timeout: 2 * MINUTES }), page.click('#update-bar button')]);
  await waitForController(page);
  assert.equal(await page.evaluate(() => window.beforeUpdate), undefined, 'the page reloaded');
  const after = await page.evaluate(async () => {
    const registration = await navigator.serviceWorker.ready;
    return { waiting: registration.waiting !== null, installing: registration.installing !== null };
  });
  assert.deepEqual(after, { waiting: false, installing: false });
  assert.equal(await page.isHidden('#update-bar'), true);
});

test('one engine owner across tabs: a second tab and a same-origin embed wait, take-over moves it', { timeout: 15 * MINUTES }, async (t) => {
  const server = await startServer();
  const browser = await launchBrowser();
  t.after(async () => {
    await browser.close();
    await server.stop();
  });
  const { context, page: first } = browser;
  await first.goto(server.url);
  await waitForStart(first);
  await first.waitForSelector('#gpu-status[data-state="ready"]', { timeout: 5 * MINUTES });
  assert.equal(await first.getAttribute('body', 'data-engine-owner'), 'owner');

  const second = await context.newPage();
  await second.goto(server.url);
  await second.waitForSelector('#engine-lock[data-state="waiting"]', { state: 'visible', timeout: 2 * MINUTES });
  assert.match(await second.textContent('#engine-lock'), /running in another tab/);
  assert.equal(await second.getAttribute('body', 'data-engine-owner'), 'waiting');
  assert.equal(await second.getAttribute('#gpu-status', 'data-state'), null, 'no engine in the waiting tab');

  const embed = await context.newPage();
  await embed.goto(new URL('embed.html', server.url).href);
  await embed.waitForSelector('body[data-embed-state="waiting"]', { timeout: 2 * MINUTES });
  assert.match(await embed.textContent('#embed-status'), /running in another tab/);
  await embed.close();

  // Take over: the second tab gets the engine, the first is told and stops its worker.
  await second.click('#engine-lock button');
  await second.waitForSelector('#gpu-status[data-state="ready"]', { timeout: 5 * MINUTES });
  assert.equal(await second.getAttribute('body', 'data-engine-owner'), 'owner');
  assert.equal(await second.isHidden('#engine-lock'), true);
  await first.waitForSelector('#engine-lock[data-state="lost"]', { state: 'visible', timeout: 60_000 });
  const stopped = await first.evaluate(() =>
    window.hearth.gpuSelfTest([1], [2]).then(
      () => 'answered',
      (e) => e.message,
    ),
  );
  assert.match(stopped, /not started|stopped/);
});
