// Q6_K re-encoded for software adapters (gpu/weight_encoding.rs): 320-byte blocks of 256
// weights: one level q (0..64) per byte in weight order, then the 16 sub-block scales d·sc as
// f32; w = (d·sc)·(q − 32). Blocks are word-aligned.
const BLOCK_WEIGHTS: u32 = 256u;
const BLOCK_BYTES: u32 = 320u;

fn dequant16(b: u32, c: u32) -> array<vec4<f32>, 4> {
    let scale = bitcast<f32>(load_u32(b + 256u + 4u * c));
    var out: array<vec4<f32>, 4>;
    for (var j = 0u; j < 4u; j++) {
        out[j] = scale * bytes4_less(load_u32(b + 16u * c + 4u * j), 32.0);
    }
    return out;
}
