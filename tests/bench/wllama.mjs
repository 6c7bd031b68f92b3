// wllama (llama.cpp compiled to wasm) in the same browser on the CPU: a cold load (fresh
// profile, from the server into wllama's cache), a warm load after a reload (from that
// cache), then one greedy reply of the same length to the same chat.
import { launchBrowser } from '../e2e/support.mjs';
import { MESSAGES, pageRates, within } from './workload.mjs';

const LOAD_TIMEOUT_MS = 5 * 60_000;
const REPLY_TIMEOUT_MS = 10 * 60_000;

async function open(page, url) {
  await page.goto(url);
  await page.waitForFunction(() => window.benchReady === true, null, { timeout: 60_000 });
}

const load = (page, modelUrl, threads) =>
  page.evaluate(([modelUrl, threads]) => window.bench.load(modelUrl, threads), [modelUrl, threads]);

/// Measures wllama with `threads` threads (1: the single-thread build; more: the
/// multi-threaded build, which needs the cross-origin isolated page `server` gives).
export async function measureWllama(server, version, threads, newTokens, log) {
  const browser = await launchBrowser();
  try {
    const { page } = browser;
    await open(page, server.url);

    const getsBefore = server.modelGets();
    log(`wllama ${threads} thread(s): cold load`);
    const cold = await within(LOAD_TIMEOUT_MS, 'wllama cold load', load(page, server.modelUrl, threads));
    const coldGets = server.modelGets() - getsBefore;

    await open(page, server.url);
    log(`wllama ${threads} thread(s): warm load`);
    const warm = await within(LOAD_TIMEOUT_MS, 'wllama warm load', load(page, server.modelUrl, threads));
    const warmGets = server.modelGets() - getsBefore - coldGets;

    log(`wllama ${threads} thread(s): ${newTokens} greedy tokens`);
    const r = await within(
      REPLY_TIMEOUT_MS,
      'wllama reply',
      page.evaluate(([messages, n]) => window.bench.reply(messages, n), [MESSAGES, newTokens]),
    );
    const promptTokens = r.timings?.prompt_n ?? r.usage?.prompt_tokens;
    const produced = r.timings?.predicted_n ?? r.usage?.completion_tokens;
    if (promptTokens === undefined || produced === undefined) {
      throw new Error('wllama reported no token counts (neither timings nor usage)');
    }
    const notes = [];
    if (threads > 1 && !warm.multithread) {
      notes.push(`asked for ${threads} threads, but wllama ran single-threaded`);
    }
    if (warmGets > 0) notes.push(`the warm load downloaded the model again (${warmGets} requests)`);
    if (r.pieces < produced / 2) {
      notes.push(`text arrived in ${r.pieces} pieces for ${produced} tokens: page-side decode timing is coarse`);
    }
    return {
      id: `wllama-${threads}t`,
      engine: 'wllama',
      engine_version: version,
      requested_backend: 'cpu',
      runs_on: 'cpu',
      threads: warm.threads,
      multithread: warm.multithread,
      cross_origin_isolated: warm.cross_origin_isolated,
      label: `wllama ${version} CPU, ${warm.threads} thread${warm.threads === 1 ? '' : 's'}`,
      load: {
        cold_ms: cold.wall_ms,
        warm_ms: warm.wall_ms,
        cold_model_requests: coldGets,
        warm_model_requests: warmGets,
        cold_downloaded_bytes: cold.downloaded_bytes,
      },
      generation: {
        ...pageRates({ promptTokens, newTokens: produced, startMs: r.started, firstMs: r.first, lastMs: r.last }),
        stop: 'max_tokens',
        text: r.text,
      },
      engine_reported: r.timings
        ? {
            prompt_tokens: r.timings.prompt_n,
            cached_tokens: r.timings.cache_n,
            prompt_ms: r.timings.prompt_ms,
            prefill_tok_s: r.timings.prompt_per_second,
            decode_tok_s: r.timings.predicted_per_second,
          }
        : null,
      notes,
    };
  } finally {
    await browser.close();
  }
}
