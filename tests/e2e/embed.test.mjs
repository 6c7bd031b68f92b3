// The embed (embed.html) driven from host pages on another site: Hearth on 127.0.0.1, hosts on
// localhost (different ports of one host would be the same site). An allowlisted host frames it
// and chats through postMessage with the real SmolLM2 model; a host off the list cannot frame
// it (CSP frame-ancestors) and, opening it in a window instead, gets no answer and changes
// nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { ARTIFACTS, startServer, launchBrowser, chunkRequests } from './support.mjs';

const MINUTES = 60_000;

// A host page on localhost:PORT that frames (or, with ?open, opens) `embed` and records every
// message it receives with its origin.
function hostPage(embed) {
  const origin = new URL(embed).origin;
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>A host page</title></head>
<body style="font-family: sans-serif; background: #eef">
  <h1>A site embedding Hearth</h1>
  <iframe id="hearth" title="Hearth chat" src="${embed}" width="480" height="360"></iframe>
  <script>
    window.received = [];
    addEventListener('message', (e) => window.received.push({ origin: e.origin, data: e.data }));
    window.ask = (message) => document.getElementById('hearth').contentWindow.postMessage(message, '${origin}');
  </script>
</body></html>`;
}

// Two hosts need each other's port before Hearth starts: reserve them first.
async function hosts() {
  const slots = [];
  let embedUrl = null;
  for (let i = 0; i < 2; i++) {
    const server = createServer((req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end(hostPage(embedUrl));
    });
    await new Promise((resolve) => server.listen(0, resolve));
    const url = `http://localhost:${server.address().port}/`;
    slots.push({ url, origin: new URL(url).origin, stop: () => new Promise((r) => server.close(r)) });
  }
  return { allowed: slots[0], stranger: slots[1], setEmbed: (u) => (embedUrl = u) };
}

function received(page, type, id) {
  return page.evaluate(
    ([type, id]) => window.received.filter((m) => m.data?.type === type && (id === undefined || m.data.id === id)),
    [type, id],
  );
}

test('an allowlisted site drives a chat in the embed; others cannot frame it or talk to it', { timeout: 40 * MINUTES }, async (t) => {
  const h = await hosts();
  const server = await startServer(['--embed-origin', h.allowed.origin]);
  const appOrigin = new URL(server.url).origin;
  const embedUrl = new URL('embed.html', server.url).href;
  h.setEmbed(embedUrl);
  const browser = await launchBrowser();
  const stranger = await launchBrowser();
  t.after(async () => {
    await browser.close();
    await stranger.close();
    await server.stop();
    await h.allowed.stop();
    await h.stranger.stop();
  });

  // The pages' policy names exactly the allowlist.
  const headers = (await fetch(embedUrl)).headers;
  const csp = headers.get('content-security-policy') ?? '';
  assert.match(csp, new RegExp(`frame-ancestors 'self' ${h.allowed.origin}(;|$)`), csp);
  assert.match(csp, /script-src 'self' 'wasm-unsafe-eval'/);

  // --- The allowlisted host: status while loading, then ready.
  const { page, logs } = browser;
  await page.goto(h.allowed.url);
  await page.waitForFunction(
    () => window.received.some((m) => m.data?.type === 'hearth:status' && ['ready', 'error'].includes(m.data.state)),
    null,
    { timeout: 20 * MINUTES, polling: 1000 },
  );
  const statuses = (await received(page, 'hearth:status')).map((m) => m.data);
  const last = statuses[statuses.length - 1];
  assert.equal(last.state, 'ready', `${JSON.stringify(last)}\n${logs.slice(-20).join('\n')}`);
  assert.ok(statuses.some((s) => s.state === 'loading' && s.stage === 'download' && s.bytes_total > 0), JSON.stringify(statuses.slice(0, 4)));
  const all = await page.evaluate(() => window.received);
  assert.ok(all.every((m) => m.origin === appOrigin), 'only the embed talks to the host');

  // A prompt of two tokens: token messages, then done with its stats.
  await page.evaluate(() =>
    window.ask({
      type: 'hearth:prompt',
      id: 'q1',
      messages: [{ role: 'user', content: 'What is the capital of France?' }],
      options: { temperature: 0, max_tokens: 2, repetition_penalty: 1.0 },
    }),
  );
  await page.waitForFunction(
    () => window.received.some((m) => ['hearth:done', 'hearth:error'].includes(m.data?.type) && m.data.id === 'q1'),
    null,
    { timeout: 10 * MINUTES, polling: 1000 },
  );
  const [error] = await received(page, 'hearth:error', 'q1');
  assert.equal(error, undefined, JSON.stringify(error));
  const [{ data: done }] = await received(page, 'hearth:done', 'q1');
  const tokens = (await received(page, 'hearth:token', 'q1')).map((m) => m.data.text);
  assert.ok(done.stats.ids.length >= 1 && done.stats.ids.length <= 2, JSON.stringify(done.stats));
  assert.ok(tokens.length >= 1 && tokens.length <= 2, JSON.stringify(tokens));
  assert.ok(done.stats.prompt_tokens > 0);
  // The embed's own view shows the same text it streamed to the host.
  const frame = page.frameLocator('#hearth');
  assert.equal(await frame.locator('#embed-reply').textContent(), tokens.join(''));
  assert.equal(await frame.locator('#embed-question').textContent(), 'What is the capital of France?');

  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: join(ARTIFACTS, 'embed.png') });

  // Stop: a long reply ends as cancelled soon after its first token.
  await page.evaluate(() =>
    window.ask({
      type: 'hearth:prompt',
      id: 'q2',
      messages: [{ role: 'user', content: 'Write a long story about a dragon.' }],
      options: { temperature: 0, max_tokens: 64 },
    }),
  );
  await page.waitForFunction(() => window.received.some((m) => m.data?.type === 'hearth:token' && m.data.id === 'q2'), null, {
    timeout: 10 * MINUTES,
    polling: 500,
  });
  await page.evaluate(() => window.ask({ type: 'hearth:stop', id: 'q2' }));
  await page.waitForFunction(() => window.received.some((m) => ['hearth:done', 'hearth:error'].includes(m.data?.type) && m.data.id === 'q2'), null, {
    timeout: 5 * MINUTES,
    polling: 500,
  });
  const [{ data: stopped }] = await received(page, 'hearth:done', 'q2');
  assert.equal(stopped.stats.stop, 'cancelled', JSON.stringify(stopped.stats));
  assert.ok(stopped.stats.ids.length < 64);

  // --- A host off the list cannot frame Hearth: the frame never loads, nothing is posted.
  const other = stranger.page;
  await other.goto(h.stranger.url);
  await other.waitForTimeout(8000);
  assert.deepEqual(await other.evaluate(() => window.received), []);
  assert.ok(
    stranger.logs.some((l) => l.includes('frame-ancestors')),
    `Chromium reports the frame-ancestors refusal:\n${stranger.logs.join('\n')}`,
  );

  // Opened as a window instead, the embed ignores the stranger's messages and changes nothing.
  const [popup] = await Promise.all([
    stranger.context.waitForEvent('page'),
    other.evaluate((url) => {
      window.opened = window.open(url);
    }, embedUrl),
  ]);
  // Once the embed listens for hosts (it would answer an allowed one from then on).
  await popup.waitForSelector('body[data-host-channel="open"]', { timeout: 2 * MINUTES });
  await other.evaluate(() => {
    for (const m of [
      { type: 'hearth:prompt', id: 'x', messages: [{ role: 'user', content: 'Hello?' }], options: { max_tokens: 1 } },
      { type: 'hearth:status' },
      { type: 'hearth:stop', id: 'x' },
    ]) {
      window.opened.postMessage(m, '*');
    }
  });
  await other.waitForTimeout(5000);
  assert.deepEqual(await other.evaluate(() => window.received), [], 'no answer to a stranger');
  assert.ok(
    stranger.logs.some((l) => l.startsWith('[warning]') && l.includes(`ignored a message from ${h.stranger.origin}`)),
    stranger.logs.join('\n'),
  );
  assert.equal(await popup.locator('#embed-question').textContent(), '');
  assert.equal(await popup.locator('#embed-reply').textContent(), '');
  assert.notEqual(await popup.evaluate(() => document.body.dataset.busy), 'true');
});

function waitForEmbedReady(page) {
  return page.waitForFunction(
    () => window.received.some((m) => m.data?.type === 'hearth:status' && ['ready', 'error'].includes(m.data.state)),
    null,
    { timeout: 20 * MINUTES, polling: 1000 },
  );
}

// Which storage a cross-site frame gets is the browser's policy: none where third-party storage
// is blocked (the first test), a partitioned copy in browsers that partition, and this
// Chromium's own storage when third-party cookies are allowed. Wherever it gets storage, the
// embed keeps the model there: a reload of the host page downloads nothing.
test('where a cross-site frame may store data, the embed caches the model for the next visit', { timeout: 40 * MINUTES }, async (t) => {
  const h = await hosts();
  const server = await startServer(['--test-hooks', '--embed-origin', h.allowed.origin]);
  h.setEmbed(new URL('embed.html', server.url).href);
  const browser = await launchBrowser({ thirdPartyStorage: true });
  t.after(async () => {
    await browser.close();
    await server.stop();
    await h.allowed.stop();
    await h.stranger.stop();
  });
  const { page } = browser;

  await page.goto(h.allowed.url);
  await waitForEmbedReady(page);
  const statuses = (await received(page, 'hearth:status')).map((m) => m.data);
  assert.equal(statuses[statuses.length - 1].state, 'ready', JSON.stringify(statuses.slice(-2)));
  const frame = page.frames().find((f) => f.url().includes('embed.html'));
  assert.equal(await frame.evaluate(() => navigator.serviceWorker.controller !== null), true, 'a service worker controls the frame');
  const chunks = await chunkRequests(server);
  assert.ok(chunks > 0, 'the first visit downloads the model');

  await page.reload();
  await waitForEmbedReady(page);
  const again = (await received(page, 'hearth:status')).map((m) => m.data);
  assert.equal(again[again.length - 1].state, 'ready');
  assert.ok(again.some((s) => s.stage === 'download'), 'the model is read again (from the cache)');
  assert.equal(await chunkRequests(server), chunks, 'nothing downloaded on the next visit');
});
