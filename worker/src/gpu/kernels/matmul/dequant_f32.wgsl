// F32: "blocks" of 16 weights (64 bytes) so every type shares one chunk size. Rows are whole
// blocks, so every block is 4-byte aligned and read as words directly.
const BLOCK_WEIGHTS: u32 = 16u;
const BLOCK_BYTES: u32 = 64u;

fn dequant16(b: u32, c: u32) -> array<vec4<f32>, 4> {
    let w = b >> 2u;
    return array<vec4<f32>, 4>(
        bitcast<vec4<f32>>(vec4<u32>(W[w], W[w + 1u], W[w + 2u], W[w + 3u])),
        bitcast<vec4<f32>>(vec4<u32>(W[w + 4u], W[w + 5u], W[w + 6u], W[w + 7u])),
        bitcast<vec4<f32>>(vec4<u32>(W[w + 8u], W[w + 9u], W[w + 10u], W[w + 11u])),
        bitcast<vec4<f32>>(vec4<u32>(W[w + 12u], W[w + 13u], W[w + 14u], W[w + 15u])),
    );
}
