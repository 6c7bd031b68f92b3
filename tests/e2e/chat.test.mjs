// The chat page with the real SmolLM2-135M-Instruct Q6_K model on WebGPU (SwiftShader): greedy
// settings set through the settings dialog, a prompt typed and sent with Enter, the streamed
// reply equal to the native engine's, Stop, a second turn that reuses the KV cache, history
// and settings after a reload and an offline reload, delete-all; and, without a model, model
// output with raw HTML shown as text, export, rename and delete.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  ARTIFACTS,
  startServer,
  launchBrowser,
  nativeReply,
  assertSameReply,
  waitForStart,
  askServiceWorker,
  openSettings,
  closeSettings,
} from './support.mjs';

const PROMPT = 'What is the capital of France?';
const TOKENS = 3;
const MINUTES = 60_000;

async function waitForChat(page) {
  await waitForStart(page);
  await page.waitForSelector('#chat[data-state="ready"]', { timeout: MINUTES });
}

async function settingsShown(page) {
  await openSettings(page);
  const values = await page.evaluate(() =>
    Object.fromEntries(
      ['temperature', 'max_tokens', 'repetition_penalty', 'system_prompt'].map((f) => [
        f,
        document.getElementById(`setting-${f}`).value,
      ]),
    ),
  );
  await closeSettings(page);
  return values;
}

// What the message list shows: one entry per message, with the reply's data attributes.
function messages(page) {
  return page.$$eval('#messages article.message', (list) =>
    list.map((m) => ({
      role: m.dataset.role,
      state: m.dataset.state,
      text: m.querySelector('.message-body').textContent,
      ids: m.dataset.tokenIds === undefined ? null : m.dataset.tokenIds.split(',').filter(Boolean).map(Number),
      reused: m.dataset.reusedTokens === undefined ? null : Number(m.dataset.reusedTokens),
      stop: m.dataset.stop ?? null,
      stats: m.querySelector('.reply-stats')?.textContent ?? null,
    })),
  );
}

function conversationTitles(page) {
  return page.$$eval('#conversations .conversation-open', (list) => list.map((b) => b.textContent));
}

// Notes whether the streaming reply ever showed text before it was done.
async function watchStreaming(page) {
  await page.evaluate(() => {
    window.__sawStreamedText = false;
    const observer = new MutationObserver(() => {
      const streaming = document.querySelector('#messages article[data-state="streaming"] .message-body');
      if (streaming && streaming.textContent.trim().length > 0) window.__sawStreamedText = true;
    });
    observer.observe(document.getElementById('messages'), { childList: true, subtree: true, characterData: true });
  });
}

// Waits until the reply at `index` is finished (it carries its token ids).
async function waitForReply(page, index) {
  await page.waitForFunction(
    (index) => {
      const m = document.querySelectorAll('#messages article.message')[index];
      return m && m.dataset.role === 'assistant' && m.dataset.state !== 'streaming' && m.dataset.state !== undefined
        && (m.dataset.tokenIds !== undefined || m.dataset.state === 'error');
    },
    index,
    { timeout: 10 * MINUTES },
  );
  return (await messages(page))[index];
}

async function send(page, text) {
  await page.fill('#prompt', text);
  await page.press('#prompt', 'Enter');
}

test('chat: greedy reply equal to native, Stop, KV reuse, reload and offline reload, delete all', { timeout: 40 * MINUTES }, async (t) => {
  mkdirSync(ARTIFACTS, { recursive: true });
  const native = nativeReply(PROMPT, TOKENS);
  const server = await startServer();
  const browser = await launchBrowser();
  t.after(async () => {
    await browser.close();
    await server.stop();
  });
  const { context, page, errors } = browser;
  await page.setViewportSize({ width: 1100, height: 760 });
  await page.goto(server.url);
  await waitForChat(page);

  // Without a model the composer says so and cannot send.
  assert.equal(await page.getAttribute('body', 'data-model'), 'none');
  assert.ok(await page.isDisabled('#send'));
  assert.match(await page.textContent('#composer-hint'), /Load a model/);

  await openSettings(page);
  await page.fill('#setting-temperature', '0');
  await page.fill('#setting-max_tokens', String(TOKENS));
  await page.fill('#setting-repetition_penalty', '1');
  await closeSettings(page);

  const loaded = await page.evaluate(async () => {
    const [model] = await window.hearth.catalog();
    try {
      return { loaded: await window.hearth.loadModel(model.manifest_url) };
    } catch (e) {
      return { error: { message: String(e.message), kind: e.kind } };
    }
  });
  assert.equal(loaded.error, undefined, JSON.stringify(loaded.error));
  await page.waitForSelector('body[data-model="ready"]');
  await page.waitForSelector('#send:not([disabled])');

  // Enter sends; the reply streams into the page and ends equal to the native engine's.
  await watchStreaming(page);
  await send(page, PROMPT);
  await page.waitForSelector('#stop:not([hidden])');
  const first = await waitForReply(page, 1);
  assert.equal(first.state, 'done', JSON.stringify(first));
  assert.ok(await page.evaluate(() => window.__sawStreamedText), 'text appeared while streaming');
  assertSameReply(first.ids, native);
  assert.equal(first.text.trim(), native.text.trim());
  assert.match(first.stats, /First token after [\d.]+ s · [\d.]+ tokens\/s/);
  assert.equal(await page.inputValue('#prompt'), '', 'the composer is cleared after sending');
  assert.ok(await page.isHidden('#stop'));

  // A second turn: Stop after its first token; the shared prefix came from the KV cache.
  await send(page, 'And of Germany?');
  await page.waitForFunction(
    () => document.querySelector('#messages article[data-state="streaming"] .message-body')?.textContent.trim(),
    null,
    { timeout: 10 * MINUTES },
  );
  await page.click('#stop');
  const second = await waitForReply(page, 3);
  assert.ok(second.stop === 'cancelled' || second.ids.length < TOKENS, JSON.stringify(second));
  assert.ok(second.reused > 0, `reused tokens: ${second.reused}`);
  assert.deepEqual(await conversationTitles(page), [PROMPT]);
  await page.screenshot({ path: join(ARTIFACTS, 'chat-light.png') });

  // Edit and resend the last message; Esc stops that reply.
  await page.click('#messages button[data-action="edit"]');
  assert.equal(await page.inputValue('#prompt'), 'And of Germany?');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'prompt');
  await send(page, 'And of Italy?');
  await page.waitForFunction(
    () => document.querySelector('#messages article[data-state="streaming"] .message-body')?.textContent.trim(),
    null,
    { timeout: 10 * MINUTES },
  );
  await page.keyboard.press('Escape');
  const edited = await waitForReply(page, 3);
  let shown = await messages(page);
  assert.deepEqual(shown.map((m) => m.role), ['user', 'assistant', 'user', 'assistant']);
  assert.equal(shown[2].text, 'And of Italy?');
  assert.ok(edited.stop === 'cancelled' || edited.ids.length < TOKENS, JSON.stringify(edited));
  assert.ok(edited.reused > 0, `reused tokens: ${edited.reused}`);

  // Regenerate the last reply: it is replaced, not added to.
  await page.click('#messages button[data-action="regenerate"]');
  await page.waitForFunction(
    () => document.querySelector('#messages article[data-state="streaming"] .message-body')?.textContent.trim(),
    null,
    { timeout: 10 * MINUTES },
  );
  await page.click('#stop');
  await waitForReply(page, 3);
  shown = await messages(page);
  assert.equal(shown.length, 4);
  assert.equal(shown[2].text, 'And of Italy?');

  // Dark theme through the toggle (system → light → dark), and a phone-sized screen.
  await page.click('#theme-toggle');
  await page.click('#theme-toggle');
  assert.equal(await page.getAttribute('html', 'data-theme'), 'dark');
  await page.screenshot({ path: join(ARTIFACTS, 'chat-dark.png') });
  await page.setViewportSize({ width: 390, height: 760 });
  assert.ok(await page.isHidden('#conversation-list'), 'the list collapses on a phone');
  await page.click('#conversations-toggle');
  assert.ok(await page.isVisible('#conversation-list'));
  assert.equal(await page.getAttribute('#conversations-toggle', 'aria-expanded'), 'true');
  await page.screenshot({ path: join(ARTIFACTS, 'chat-phone.png') });
  await page.click('#conversations-toggle');
  await page.setViewportSize({ width: 1100, height: 760 });

  const before = await messages(page);
  const expectKept = async (when) => {
    await waitForChat(page);
    assert.deepEqual(await messages(page), before, `messages after ${when}`);
    assert.deepEqual(await conversationTitles(page), [PROMPT], `list after ${when}`);
    assert.deepEqual(
      await settingsShown(page),
      { temperature: '0', max_tokens: String(TOKENS), repetition_penalty: '1', system_prompt: '' },
      `settings after ${when}`,
    );
    assert.equal(await page.getAttribute('html', 'data-theme'), 'dark', `theme after ${when}`);
  };
  await page.reload();
  await expectKept('a reload');

  await server.stop();
  await context.setOffline(true);
  await page.reload();
  await expectKept('an offline reload');

  // Delete all data: conversations, settings and the stored model, after a confirmation.
  const stored = await askServiceWorker(page, { type: 'cache_status' });
  assert.ok(stored.models.some((m) => m.chunks_stored > 0), JSON.stringify(stored));
  await openSettings(page);
  page.once('dialog', (d) => d.dismiss());
  await page.click('#delete-all');
  assert.equal((await conversationTitles(page)).length, 1, 'nothing deleted when not confirmed');
  page.once('dialog', (d) => d.accept());
  await page.click('#delete-all');
  await page.waitForFunction(() => /Deleted all/.test(document.getElementById('data-status').textContent));
  await closeSettings(page);
  assert.deepEqual(await conversationTitles(page), []);
  assert.deepEqual(await messages(page), []);
  const after = await askServiceWorker(page, { type: 'cache_status' });
  assert.ok(after.models.every((m) => m.chunks_stored === 0), JSON.stringify(after));
  await page.reload();
  await waitForChat(page);
  assert.deepEqual(await conversationTitles(page), []);
  assert.equal((await settingsShown(page)).temperature, '0.7', 'settings back to their defaults');
  assert.equal(await page.getAttribute('html', 'data-theme'), null);
  assert.deepEqual(errors, []);
});

test('chat: model HTML is shown as text, code blocks kept; export, rename and delete', { timeout: 10 * MINUTES }, async (t) => {
  mkdirSync(ARTIFACTS, { recursive: true });
  const server = await startServer();
  const browser = await launchBrowser();
  t.after(async () => {
    await browser.close();
    await server.stop();
  });
  const { page, errors } = browser;
  await page.goto(server.url);
  await waitForChat(page);

  const hostile = 'Sure: <img src=x onerror="window.__pwned=1"> done.\n\n'
    + '<img src=y onerror="window.__pwned=2">\n\n'
    + '```js\nconsole.log("<b>hi</b>");\n```\n';
  const now = Date.now();
  const imported = await page.evaluate(
    (json) => window.hearth.importConversations(json),
    JSON.stringify({
      format: 'hearth-conversations',
      version: 1,
      conversations: [{
        id: 'markdown-1',
        title: '',
        created_ms: now,
        updated_ms: now,
        messages: [{ role: 'user', content: 'Show me <b>HTML</b>' }, { role: 'assistant', content: hostile }],
      }],
    }),
  );
  assert.equal(imported, 1);

  await page.reload();
  await waitForChat(page);
  const shown = await messages(page);
  assert.equal(shown.length, 2);
  assert.equal(shown[0].text, 'Show me <b>HTML</b>');
  assert.ok(shown[1].text.includes('<img src=x onerror="window.__pwned=1">'), shown[1].text);
  assert.ok(shown[1].text.includes('<img src=y onerror="window.__pwned=2">'), shown[1].text);
  assert.equal(await page.locator('#messages img').count(), 0);
  assert.equal(await page.locator('#messages b').count(), 0);
  assert.equal(await page.evaluate(() => window.__pwned), undefined);
  assert.equal(
    await page.textContent('#messages article[data-role="assistant"] pre > code'),
    'console.log("<b>hi</b>");\n',
  );
  await page.screenshot({ path: join(ARTIFACTS, 'chat-markdown.png') });

  assert.equal(await page.locator('#messages button[data-action]').count(), 0, 'no regenerate without a model');

  // Shift+Enter is a new line; Enter without a model sends nothing and keeps the text.
  await page.fill('#prompt', 'one');
  await page.press('#prompt', 'Shift+Enter');
  await page.type('#prompt', 'two');
  assert.equal(await page.inputValue('#prompt'), 'one\ntwo');
  await page.press('#prompt', 'Enter');
  assert.equal(await page.inputValue('#prompt'), 'one\ntwo');
  assert.equal((await messages(page)).length, 2);
  await page.fill('#prompt', '');

  // Export as JSON and as Markdown: downloads holding the conversation.
  await openSettings(page);
  await page.screenshot({ path: join(ARTIFACTS, 'chat-settings.png') });
  const [json] = await Promise.all([page.waitForEvent('download'), page.click('#export-json')]);
  assert.equal(json.suggestedFilename(), 'hearth-conversations.json');
  const exported = JSON.parse(readFileSync(await json.path(), 'utf8'));
  assert.equal(exported.format, 'hearth-conversations');
  assert.equal(exported.conversations[0].messages[1].content, hostile);
  const [md] = await Promise.all([page.waitForEvent('download'), page.click('#export-markdown')]);
  assert.equal(md.suggestedFilename(), 'hearth-conversations.md');
  const markdown = readFileSync(await md.path(), 'utf8');
  assert.ok(markdown.includes('## Show me <b>HTML</b>'), markdown);
  assert.ok(markdown.includes(`### Assistant\n\n${hostile.trimEnd()}`), markdown);
  await closeSettings(page);

  // Rename and delete from the list; both survive a reload.
  page.once('dialog', (d) => d.accept('Markdown check'));
  await page.click('#conversations button[data-action="rename"]');
  assert.deepEqual(await conversationTitles(page), ['Markdown check']);
  await page.reload();
  await waitForChat(page);
  assert.deepEqual(await conversationTitles(page), ['Markdown check']);
  page.once('dialog', (d) => d.accept());
  await page.click('#conversations button[data-action="delete"]');
  assert.deepEqual(await conversationTitles(page), []);
  assert.deepEqual(await messages(page), []);
  await page.reload();
  await waitForChat(page);
  assert.deepEqual(await conversationTitles(page), []);
  assert.deepEqual(errors, []);
});
