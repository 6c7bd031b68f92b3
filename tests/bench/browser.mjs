// Browser benchmark: Hearth (GPU and CPU backends) and wllama (one and two threads) side by
// side in the same Chromium, on the same machine, in one run, on SmolLM2-135M-Instruct Q6_K:
// cold and warm load, time to first token, prefill and decode tok/s for the same chat and the
// same number of greedy tokens. Writes one JSON object to --out and prints it.
//
//   node tests/bench/browser.mjs --out target/bench-browser.json [--tokens 32]
//        [--engines hearth-gpu,hearth-cpu,wllama-1t,wllama-2t]
//
// Needs a built dist/ (`cargo xtask build`) and the model fixture (`cargo xtask fixtures`).
// Each engine gets a fresh browser profile, so its first load is a cold one.
import { readFileSync, writeFileSync, statSync, mkdirSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { ROOT, startServer } from '../e2e/support.mjs';
import { MESSAGES, MODEL_FILE, MODEL_NAME, DEFAULT_NEW_TOKENS } from './workload.mjs';
import { measureHearth } from './hearth.mjs';
import { measureWllama } from './wllama.mjs';
import { startWllamaServer } from './wllama-server.mjs';
import { environment } from './environment.mjs';
import { compare } from './compare.mjs';

const ENGINES = ['wllama-1t', 'wllama-2t', 'hearth-gpu', 'hearth-cpu'];

const { values } = parseArgs({
  options: {
    out: { type: 'string' },
    tokens: { type: 'string', default: String(DEFAULT_NEW_TOKENS) },
    engines: { type: 'string', default: ENGINES.join(',') },
  },
});
const newTokens = Number(values.tokens);
if (!Number.isInteger(newTokens) || newTokens < 2) {
  throw new Error(`--tokens must be a whole number of at least 2, not ${values.tokens}`);
}
const engines = values.engines.split(',').filter(Boolean);
const unknown = engines.filter((e) => !ENGINES.includes(e));
if (unknown.length) throw new Error(`unknown engines ${unknown.join(', ')}; known: ${ENGINES.join(', ')}`);

const log = (line) => console.error(`[bench] ${line}`);
const wllamaVersion = JSON.parse(
  readFileSync(join(ROOT, 'node_modules', '@wllama', 'wllama', 'package.json'), 'utf8'),
).version;

const wllamaServer = await startWllamaServer(MODEL_FILE);
const needsHearth = engines.some((e) => e.startsWith('hearth'));
const hearthServer = needsHearth ? await startServer(['--test-hooks']) : null;
const runs = [];
// Other work on the machine slows every engine down, threaded ones most: say how busy it was.
const loadBefore = loadavg();
let env;
try {
  env = await environment(wllamaServer.url);
  log(`Chromium ${env.chromium}, adapter ${JSON.stringify(env.webgpu_adapter)}, ${env.cpu_count} CPUs`);
  for (const engine of engines) {
    const [name, kind] = engine.split('-');
    const run =
      name === 'hearth'
        ? await measureHearth(hearthServer, kind, newTokens, log)
        : await measureWllama(wllamaServer, wllamaVersion, Number.parseInt(kind, 10), newTokens, log);
    log(
      `${run.label}: decode ${run.generation.decode_tok_s?.toFixed(2)} tok/s, ` +
        `prefill ${run.generation.prefill_tok_s.toFixed(1)} tok/s, TTFT ${run.generation.ttft_ms.toFixed(0)} ms, ` +
        `warm load ${run.load.warm_ms.toFixed(0)} ms`,
    );
    runs.push(run);
  }
} finally {
  await wllamaServer.stop();
  await hearthServer?.stop();
}

env.load_average_start = loadBefore;
env.load_average_end = loadavg();

const notes = [];
const promptCounts = new Set(runs.map((r) => r.generation.prompt_tokens));
if (promptCounts.size > 1) {
  notes.push(
    `the engines rendered the chat to different prompt lengths: ` +
      runs.map((r) => `${r.id} ${r.generation.prompt_tokens}`).join(', '),
  );
}
for (const r of runs) for (const n of r.notes) notes.push(`${r.id}: ${n}`);

const report = {
  benchmark: 'browser',
  date: new Date().toISOString(),
  model: { name: MODEL_NAME, file: 'SmolLM2-135M-Instruct.Q6_K.gguf', bytes: statSync(MODEL_FILE).size },
  workload: {
    messages: MESSAGES,
    new_tokens: newTokens,
    sampling: 'greedy (temperature 0)',
    timing:
      'measured in the page from the request: ttft_ms to the first streamed token, ' +
      'prefill_tok_s = prompt tokens / ttft, decode_tok_s = (new tokens - 1) / (last token - first token); ' +
      'engine_reported holds each engine\'s own figures',
  },
  environment: env,
  runs,
  ratios: compare(runs),
  ratio_meaning: 'Hearth ÷ wllama: for decode and prefill tok/s above 1 means Hearth is faster; for ttft and warm load below 1 means Hearth is faster',
  notes,
};
const json = JSON.stringify(report, null, 2);
if (values.out) {
  mkdirSync(dirname(values.out), { recursive: true });
  writeFileSync(values.out, json + '\n');
}
console.log(json);
