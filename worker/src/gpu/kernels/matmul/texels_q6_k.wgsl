// Q6_K in texel runs (gpu/weight_encoding.rs): a run is one 16-weight sub-block, a level byte
// is q (0..64) and a weight scale·(q − 32). The kernels take Σ q·x and subtract
// LEVEL_OFFSET·Σx over OFFSET_LANES once per run.

const RUN_WEIGHTS: u32 = 16u;
const LEVEL_OFFSET: f32 = 32.0;
const OFFSET_LANES = vec4<f32>(1.0, 1.0, 1.0, 1.0);

// Each byte of a level word as the weight's quant (for the embedding lookup).
fn word_quants(w: u32) -> vec4<f32> {
    return vec4<f32>((vec4<u32>(w) >> vec4<u32>(0u, 8u, 16u, 24u)) & vec4<u32>(0xFFu)) - 32.0;
}
