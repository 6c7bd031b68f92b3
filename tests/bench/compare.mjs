// Hearth ÷ wllama for each pair of runs, whichever way the numbers fall.
const ratio = (a, b) => (a == null || b == null || b === 0 ? null : a / b);

/// One entry per Hearth run and wllama run: decode and prefill (rates: above 1 means Hearth
/// is faster), time to first token and warm load (times: below 1 means Hearth is faster).
export function compare(runs) {
  const hearth = runs.filter((r) => r.engine === 'hearth');
  const wllama = runs.filter((r) => r.engine === 'wllama');
  return hearth.flatMap((h) =>
    wllama.map((w) => ({
      hearth: h.id,
      wllama: w.id,
      label: `${h.label} ÷ ${w.label}`,
      decode_tok_s: ratio(h.generation.decode_tok_s, w.generation.decode_tok_s),
      prefill_tok_s: ratio(h.generation.prefill_tok_s, w.generation.prefill_tok_s),
      ttft_ms: ratio(h.generation.ttft_ms, w.generation.ttft_ms),
      warm_load_ms: ratio(h.load.warm_ms, w.load.warm_ms),
    })),
  );
}
