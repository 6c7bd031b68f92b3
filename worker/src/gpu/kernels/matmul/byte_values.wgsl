// A weight word's bytes as values, for the dequantizer snippets (after common.wgsl or
// row_quad_bytes.wgsl).
//
// No integer-to-float conversion: a byte b placed in the low bits of the float 2^23 (bits
// 0x4B000000) makes the float 2^23 + b exactly, and subtracting 2^23 (or 2^23 plus an offset)
// leaves b (or b less the offset) exactly. A GPU converts integers at a quarter of its float
// rate or less (an H200's SMs 16 a clock against 128 multiply-adds), and the GEMVs convert
// every weight.

const TWO_23: f32 = 8388608.0;

// The 4 bytes of a word as floats 2^23 + byte.
fn biased_bytes4(w: u32) -> vec4<f32> {
    let b = vec4<u32>(w & 0xFFu, (w >> 8u) & 0xFFu, (w >> 16u) & 0xFFu, w >> 24u);
    return bitcast<vec4<f32>>(b | vec4<u32>(0x4B000000u));
}

// The 4 bytes of a word as unsigned values.
fn bytes4(w: u32) -> vec4<f32> {
    return biased_bytes4(w) - vec4<f32>(TWO_23);
}

// The 4 bytes of a word as unsigned values less `offset` (an integer below 2^23).
fn bytes4_less(w: u32, offset: f32) -> vec4<f32> {
    return biased_bytes4(w) - vec4<f32>(TWO_23 + offset);
}

// The 4 bytes of a word as signed (i8) values: flipping a byte's sign bit adds 128 to its
// signed value.
fn sbytes4(w: u32) -> vec4<f32> {
    return bytes4_less(w ^ 0x80808080u, 128.0);
}
