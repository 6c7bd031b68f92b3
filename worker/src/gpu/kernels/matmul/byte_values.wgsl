// A weight word's bytes as values, for the dequantizer snippets (after common.wgsl or
// row_quad_bytes.wgsl).

// The 4 bytes of a word as unsigned values.
fn bytes4(w: u32) -> vec4<f32> {
    return vec4<f32>(vec4<u32>(w & 0xFFu, (w >> 8u) & 0xFFu, (w >> 16u) & 0xFFu, w >> 24u));
}

// The 4 bytes of a word as signed (i8) values.
fn sbytes4(w: u32) -> vec4<f32> {
    let v = bitcast<vec4<i32>>(vec4<u32>(w << 24u, w << 16u, w << 8u, w)) >> vec4<u32>(24u);
    return vec4<f32>(v);
}
