// Q6_K re-encoded for software adapters (gpu/weight_encoding.rs): 276-byte blocks of 256
// weights: one level q (0..64) per byte in weight order, the 16 i8 sub-block scales, d as f32;
// w = d·scales[i / 16]·(q − 32). Blocks are word-aligned.
const BLOCK_WEIGHTS: u32 = 256u;
const BLOCK_BYTES: u32 = 276u;

fn dequant16(b: u32, c: u32) -> array<vec4<f32>, 4> {
    let sc = bitcast<i32>(load_u8(b + 256u + c) << 24u) >> 24u;
    let d = bitcast<f32>(load_u32(b + 272u)) * f32(sc);
    var out: array<vec4<f32>, 4>;
    for (var j = 0u; j < 4u; j++) {
        out[j] = d * (bytes4(load_u32(b + 16u * c + 4u * j)) - vec4<f32>(32.0));
    }
    return out;
}
