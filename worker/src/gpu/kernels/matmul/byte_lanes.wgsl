// Bytes of a weight word as four f32 lanes, with no shift (on SwiftShader every WGSL shift is
// split into one scalar shift per SIMD lane; see gemv_rows_q8_0_words.wgsl). Masked to its
// byte, lane i of a word holds b·256^i, which converts to f32 exactly; the x it multiplies is
// scaled by 256^-i instead (a power of two, so exact too). Concatenated before the typed row
// kernels (after row_quads.wgsl), which read weights re-encoded at upload
// (gpu/weight_encoding.rs) so that every byte lane converts as it is: bytes 0..2 below 256 and
// byte 3 signed, or every byte below 128.

const LANE_MASK = vec4<u32>(0xFFu, 0xFF00u, 0xFF0000u, 0xFF000000u);
const LANE_SCALE = vec4<f32>(1.0, 0.00390625, 0.0000152587890625, 0.000000059604644775390625);

// Signed bytes stored as b + 128 in bytes 0..2 and as b in byte 3 (Q8_0 quants): the 128 is
// taken off once per block with Σx over these lanes.
const BIASED_LANES = vec4<f32>(1.0, 1.0, 1.0, 0.0);

// Lane i: byte i · 256^i, byte 3 read as signed.
fn word_lanes(w: u32) -> vec4<f32> {
    return vec4<f32>(bitcast<vec4<i32>>(vec4<u32>(w) & LANE_MASK));
}

// Each of 4 rows' word (w) against the same x, scaled to the byte lanes: one sum per row.
fn row_dots(w: vec4<u32>, xs: vec4<f32>) -> vec4<f32> {
    return vec4<f32>(
        dot(word_lanes(w.x), xs),
        dot(word_lanes(w.y), xs),
        dot(word_lanes(w.z), xs),
        dot(word_lanes(w.w), xs),
    );
}
