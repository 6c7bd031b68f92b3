// The work every engine in the browser benchmark does: the same chat, rendered with the
// model's own chat template, and a fixed number of greedily chosen new tokens.
import { join } from 'node:path';
import { ROOT } from '../e2e/support.mjs';

export const MODEL_NAME = 'SmolLM2-135M-Instruct Q6_K';
export const MODEL_FILE = join(ROOT, '.cache', 'fixtures', 'SmolLM2-135M-Instruct.Q6_K.gguf');

// A request that asks for a long answer, so neither engine reaches its end-of-turn token
// within the measured tokens.
export const MESSAGES = [
  { role: 'system', content: 'You are a helpful assistant.' },
  {
    role: 'user',
    content:
      'Write a long story about a lighthouse keeper who finds a message in a bottle. ' +
      'Describe the sea, the weather and what the keeper feels.',
  },
];

export const DEFAULT_NEW_TOKENS = 32;

/// Timings taken the same way for every engine, in the page, from the moment the request is
/// made: time to the first token, prompt tokens per second over that time, and new tokens
/// after the first per second between the first and the last token.
export function pageRates({ promptTokens, newTokens, startMs, firstMs, lastMs }) {
  const ttft = firstMs - startMs;
  return {
    prompt_tokens: promptTokens,
    new_tokens: newTokens,
    ttft_ms: ttft,
    prefill_tok_s: promptTokens / (ttft / 1000),
    decode_tok_s: newTokens > 1 ? (newTokens - 1) / ((lastMs - firstMs) / 1000) : null,
  };
}

/// Rejects when `promise` takes longer than `ms`, naming `what`.
export function within(ms, what, promise) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms / 1000} s`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
