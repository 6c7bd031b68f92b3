// The page side of the wllama measurement: loads the model on the CPU (no WebGPU) with the
// thread count asked for, and streams one greedy chat reply, timing each piece of text.
import { Wllama } from '/wllama/index.js';

const PATHS = { default: new URL('/wllama/wllama.wasm', location.href).href };
let wllama = null;

/// Loads the model from `modelUrl` (wllama keeps a copy in its own cache, the origin private
/// file system, and reads it from there when it is present).
async function load(modelUrl, threads) {
  if (wllama) await wllama.exit();
  wllama = new Wllama(PATHS, { suppressNativeLog: true });
  let downloaded = 0;
  const started = performance.now();
  await wllama.loadModelFromUrl(modelUrl, {
    n_threads: threads,
    n_gpu_layers: 0,
    n_ctx: 1024,
    progressCallback: ({ loaded }) => {
      downloaded = loaded;
    },
  });
  return {
    wall_ms: performance.now() - started,
    downloaded_bytes: downloaded,
    multithread: wllama.isMultithread(),
    threads: wllama.getNumThreads(),
    cross_origin_isolated: self.crossOriginIsolated,
  };
}

/// One greedy reply of exactly `maxTokens` tokens (end of turn ignored).
async function reply(messages, maxTokens) {
  const marks = [];
  let text = '';
  let timings = null;
  let usage = null;
  const started = performance.now();
  await wllama.createChatCompletion({
    messages,
    max_tokens: maxTokens,
    temperature: 0,
    ignore_eos: true,
    cache_prompt: false,
    stream: true,
    onData: (chunk) => {
      const piece = chunk.choices?.[0]?.delta?.content;
      if (piece) {
        marks.push(performance.now());
        text += piece;
      }
      if (chunk.timings) timings = chunk.timings;
      if (chunk.usage) usage = chunk.usage;
    },
  });
  return { started, first: marks[0], last: marks[marks.length - 1], pieces: marks.length, text, timings, usage };
}

window.bench = { load, reply };
window.benchReady = true;
