// Hearth in the browser: a cold load (fresh profile, from the network through the service
// worker into IndexedDB), a warm load after a reload (from IndexedDB), then one greedy reply,
// on the backend asked for. Records where the model actually ran.
import { launchBrowser, waitForStart, chunkRequests } from '../e2e/support.mjs';
import { MESSAGES, pageRates, within } from './workload.mjs';

const LOAD_TIMEOUT_MS = 10 * 60_000;
const REPLY_TIMEOUT_MS = 20 * 60_000;
/// How long the app's own load of the stored model after a reload may take.
const AUTOMATIC_TIMEOUT_MS = 120_000;

/// Loads the catalog's model on `backend`; resolves with the loaded reply, the page's wall
/// time, the load stages seen and when each was first reported (ms after the request).
function load(page, backend) {
  return page.evaluate(async (backend) => {
    const [model] = await window.hearth.catalog();
    const stageMs = {};
    const started = performance.now();
    const seen = (e) => {
      if (e.stage && !(e.stage in stageMs)) stageMs[e.stage] = performance.now() - started;
    };
    const loaded = await window.hearth.loadModel(model.manifest_url, seen, { backend });
    const wall_ms = performance.now() - started;
    return { loaded, wall_ms, stages: Object.keys(stageMs), stage_ms: stageMs, size: model.size };
  }, backend);
}

function reply(page, maxTokens) {
  return page.evaluate(
    async ([messages, maxTokens]) => {
      const marks = [];
      let text = '';
      const started = performance.now();
      const done = await window.hearth.generate(
        messages,
        { temperature: 0, max_tokens: maxTokens, repetition_penalty: 1.0 },
        (e) => {
          if (e.type !== 'token') return;
          marks.push(performance.now());
          text += e.text;
        },
      );
      return { done, text, started, first: marks[0], last: marks[marks.length - 1] };
    },
    [MESSAGES, maxTokens],
  );
}

/// Measures Hearth asked for `backend` ("gpu" or "cpu") against `server` (started with
/// --test-hooks, so chunk downloads can be counted).
export async function measureHearth(server, backend, newTokens, log) {
  const browser = await launchBrowser();
  try {
    const { page } = browser;
    await page.goto(server.url);
    await waitForStart(page);

    const chunksBefore = await chunkRequests(server);
    log(`hearth ${backend}: cold load`);
    const cold = await within(LOAD_TIMEOUT_MS, 'Hearth cold load', load(page, backend));
    const coldChunks = (await chunkRequests(server)) - chunksBefore;

    // After the reload the app loads the stored model by itself (its setting, Automatic). Let
    // that finish first, so the timed warm load below does not wait behind or cancel it; its
    // own time (from the reload to ready) is recorded too.
    const reloaded = Date.now();
    await page.reload();
    await waitForStart(page);
    const automatic = await page
      .waitForFunction(() => document.body.dataset.model === 'ready', null, { timeout: AUTOMATIC_TIMEOUT_MS })
      .then(() => ({ ms: Date.now() - reloaded, backend: null }))
      .catch(() => null);
    if (automatic) automatic.backend = await page.evaluate(() => document.body.dataset.backend ?? null);
    log(`hearth ${backend}: warm load`);
    const warm = await within(LOAD_TIMEOUT_MS, 'Hearth warm load', load(page, backend));
    const warmChunks = (await chunkRequests(server)) - chunksBefore - coldChunks;

    log(`hearth ${backend}: ${newTokens} greedy tokens`);
    const r = await within(REPLY_TIMEOUT_MS, 'Hearth reply', reply(page, newTokens));
    const stats = r.done.stats;
    const runsOn = warm.loaded.runs_on;
    const notes = [];
    if (runsOn !== backend) {
      notes.push(`asked for the ${backend} backend, but the engine ran it on the ${runsOn}`);
    }
    if (cold.loaded.runs_on !== runsOn) {
      notes.push(`the cold load ran on the ${cold.loaded.runs_on}, the warm load on the ${runsOn}`);
    }
    if (stats.ids.length < newTokens) {
      notes.push(`stopped after ${stats.ids.length} of ${newTokens} tokens (${stats.stop})`);
    }
    if (warmChunks > 0) notes.push(`the warm load downloaded ${warmChunks} chunks`);
    if (!automatic) notes.push('the app did not load the stored model by itself after the reload');
    const outside = warm.wall_ms - warm.loaded.load_ms;
    if (outside > 1000) {
      notes.push(
        `the warm load took ${(warm.wall_ms / 1000).toFixed(1)} s in the page, ` +
          `of which the engine's own load was ${(warm.loaded.load_ms / 1000).toFixed(1)} s`,
      );
    }
    return {
      id: `hearth-${backend}`,
      engine: 'hearth',
      requested_backend: backend,
      runs_on: runsOn,
      adapter: warm.loaded.adapter ?? null,
      fallback: warm.loaded.fallback ?? null,
      label: `Hearth ${runsOn.toUpperCase()}${runsOn === backend ? '' : ` (asked for ${backend.toUpperCase()})`}`,
      load: {
        cold_ms: cold.wall_ms,
        warm_ms: warm.wall_ms,
        cold_engine_ms: cold.loaded.load_ms,
        warm_engine_ms: warm.loaded.load_ms,
        cold_stages: cold.stages,
        warm_stages: warm.stages,
        cold_stage_ms: cold.stage_ms,
        warm_stage_ms: warm.stage_ms,
        automatic_after_reload_ms: automatic?.ms ?? null,
        automatic_backend: automatic?.backend ?? null,
        cold_chunk_requests: coldChunks,
        warm_chunk_requests: warmChunks,
        model_bytes: cold.size,
      },
      generation: {
        ...pageRates({
          promptTokens: stats.prompt_ids.length - stats.reused_tokens,
          newTokens: stats.ids.length,
          startMs: r.started,
          firstMs: r.first,
          lastMs: r.last,
        }),
        stop: stats.stop,
        text: r.text,
      },
      engine_reported: {
        prompt_tokens: stats.prompt_tokens,
        reused_tokens: stats.reused_tokens,
        ttft_ms: stats.time_to_first_token_ms,
        prefill_tok_s: stats.prefill_tok_s,
        decode_tok_s: stats.decode_tok_s,
      },
      notes,
    };
  } finally {
    await browser.close();
  }
}
