// F16: "blocks" of 16 weights (32 bytes), always 4-byte aligned; unpack2x16float needs no
// shader-f16.
const BLOCK_WEIGHTS: u32 = 16u;
const BLOCK_BYTES: u32 = 32u;

fn dequant16(b: u32, c: u32) -> array<vec4<f32>, 4> {
    let w = b >> 2u;
    return array<vec4<f32>, 4>(
        vec4<f32>(unpack2x16float(W[w]), unpack2x16float(W[w + 1u])),
        vec4<f32>(unpack2x16float(W[w + 2u]), unpack2x16float(W[w + 3u])),
        vec4<f32>(unpack2x16float(W[w + 4u]), unpack2x16float(W[w + 5u])),
        vec4<f32>(unpack2x16float(W[w + 6u]), unpack2x16float(W[w + 7u])),
    );
}
