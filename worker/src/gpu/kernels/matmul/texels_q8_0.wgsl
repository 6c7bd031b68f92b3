// Q8_0 in texel runs (gpu/weight_encoding.rs): a run is one 32-weight block (two 16-column
// halves), a level byte is the quant q, bytes 0..2 of each word biased to q + 128 and byte 3
// signed, and a weight is d·q. The kernels take Σ byte·x and subtract LEVEL_OFFSET·Σx over
// OFFSET_LANES (the biased bytes) once per run.

const RUN_WEIGHTS: u32 = 32u;
const LEVEL_OFFSET: f32 = 128.0;
const OFFSET_LANES = vec4<f32>(1.0, 1.0, 1.0, 0.0);

// Each byte of a level word as the weight's quant (for the embedding lookup).
fn word_quants(w: u32) -> vec4<f32> {
    let b = vec4<u32>(w) >> vec4<u32>(0u, 8u, 16u, 24u);
    let signed = bitcast<i32>(w) >> 24u;
    return vec4<f32>(vec3<f32>((b.xyz & vec3<u32>(0xFFu))) - 128.0, f32(signed));
}
