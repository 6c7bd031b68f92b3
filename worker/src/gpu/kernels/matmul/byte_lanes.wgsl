// Bytes of a weight word as four f32 lanes, with no shift (on SwiftShader every WGSL shift is
// split into one scalar shift per SIMD lane; see gemv_rows_q8_0.wgsl). Masked to its byte, lane
// i of a word holds b·256^i, which converts to f32 exactly; the x it multiplies is scaled by
// 256^-i instead (a power of two, so exact too). Concatenated before the typed row kernels.

const LANE_MASK = vec4<u32>(0xFFu, 0xFF00u, 0xFF0000u, 0xFF000000u);
const LANE_SCALE = vec4<f32>(1.0, 0.00390625, 0.0000152587890625, 0.000000059604644775390625);

// Q8_0 quants: bytes 0..2 are made unsigned by flipping their top bit (b + 128, the 128 taken
// off once per block with Σx over BIASED_LANES); byte 3 keeps its sign in the i32's sign bit.
const BIASED_LANES = vec4<f32>(1.0, 1.0, 1.0, 0.0);

// Word `at` of the four rows that start at word offsets `rows` of the weight part.
fn words(rows: vec4<u32>, at: u32) -> vec4<u32> {
    return vec4<u32>(W[rows.x + at], W[rows.y + at], W[rows.z + at], W[rows.w + at]);
}

// Unsigned bytes below 128 (Q6_K levels): lane i holds byte i · 256^i.
fn unsigned_lanes(w: u32) -> vec4<f32> {
    return vec4<f32>(bitcast<vec4<i32>>(vec4<u32>(w) & LANE_MASK));
}

// Signed byte i of each of 4 words (one per row), as an f32; byte i is given by its LANE_MASK
// and LANE_SCALE components and bias (128 for bytes 0..2, 0 for byte 3), as in q8_lanes.
fn signed_bytes(w: vec4<u32>, mask: u32, scale: f32, bias: f32) -> vec4<f32> {
    let lanes = bitcast<vec4<i32>>((w ^ vec4<u32>(0x00808080u)) & vec4<u32>(mask));
    return vec4<f32>(lanes) * scale - bias;
}

// Lane i: (byte i + 128 for i < 3, signed byte 3) · 256^i.
fn q8_lanes(w: u32) -> vec4<f32> {
    return vec4<f32>(bitcast<vec4<i32>>(vec4<u32>(w ^ 0x00808080u) & LANE_MASK));
}
