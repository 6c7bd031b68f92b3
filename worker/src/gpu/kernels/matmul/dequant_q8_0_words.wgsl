// Q8_0 re-encoded for software adapters (gpu/weight_encoding.rs): 36-byte blocks of 32 weights:
// the quants with bytes 0..2 of each word stored as q + 128, then d as f32; w = d·q. Blocks are
// word-aligned.
const BLOCK_WEIGHTS: u32 = 32u;
const BLOCK_BYTES: u32 = 36u;

fn dequant16(b: u32, c: u32) -> array<vec4<f32>, 4> {
    let d = bitcast<f32>(load_u32(b + 32u));
    var out: array<vec4<f32>, 4>;
    for (var j = 0u; j < 4u; j++) {
        out[j] = d * sbytes4(load_u32(b + 16u * c + 4u * j) ^ 0x00808080u);
    }
    return out;
}
