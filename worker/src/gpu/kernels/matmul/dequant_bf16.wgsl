// BF16: "blocks" of 16 weights (32 bytes), always 4-byte aligned; a bf16 is the top half of
// an f32.
const BLOCK_WEIGHTS: u32 = 16u;
const BLOCK_BYTES: u32 = 32u;

fn bf16x4(lo: u32, hi: u32) -> vec4<f32> {
    return bitcast<vec4<f32>>(vec4<u32>(lo << 16u, lo & 0xFFFF0000u, hi << 16u, hi & 0xFFFF0000u));
}

fn dequant16(b: u32, c: u32) -> array<vec4<f32>, 4> {
    let w = b >> 2u;
    return array<vec4<f32>, 4>(
        bf16x4(W[w], W[w + 1u]),
        bf16x4(W[w + 2u], W[w + 3u]),
        bf16x4(W[w + 4u], W[w + 5u]),
        bf16x4(W[w + 6u], W[w + 7u]),
    );
}
