// GEMV for decode on software adapters (SwiftShader, lavapipe), Q8_0 weights whose rows hold
// an even number of blocks. Concatenated after gemv_io.wgsl and byte_lanes.wgsl.
//
// A CPU driver runs four (or eight) invocations in the lanes of one SIMD register. What costs
// there is not what costs on a GPU:
// - every storage read whose index is not a constant is a gather, one scalar load per lane;
// - a shift by a non-constant-folded amount (every WGSL `<<`/`>>`) is split into one scalar
//   shift per lane by SwiftShader's x86 back end.
// So each invocation computes 8 rows (every x read serves 8 rows), reads each weight word once
// as an aligned u32, and takes bytes apart with masks and an i32 → f32 conversion, never with
// a shift (byte_lanes.wgsl).
//
// Two 34-byte blocks are 17 aligned words: d₀ | q₀ q₁, q₂..q₂₉ (7 words), q₃₀ q₃₁ | d₁, then
// block 1's 32 quants in 8 words.

const WG: u32 = 16u;
const ROWS: u32 = 8u;

fn dots(w: vec4<u32>, xs: vec4<f32>) -> vec4<f32> {
    return vec4<f32>(dot(q8_lanes(w.x), xs), dot(q8_lanes(w.y), xs), dot(q8_lanes(w.z), xs), dot(q8_lanes(w.w), xs));
}

fn low_halves(h: vec4<u32>) -> vec4<f32> {
    return vec4<f32>(unpack2x16float(h.x).x, unpack2x16float(h.y).x, unpack2x16float(h.z).x, unpack2x16float(h.w).x);
}

fn high_halves(h: vec4<u32>) -> vec4<f32> {
    return vec4<f32>(unpack2x16float(h.x).y, unpack2x16float(h.y).y, unpack2x16float(h.z).y, unpack2x16float(h.w).y);
}

@compute @workgroup_size(WG)
fn main(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(local_invocation_index) lane: u32,
) {
    let first = ((wg.x + wg.y * groups.x) * WG + lane) * ROWS;
    if (first >= p.rows) {
        return;
    }
    let row_words = p.cols / 64u * 17u;
    // Rows past the end read the last row again and are not stored.
    let last = vec4<u32>(p.rows - 1u);
    let ra = min(vec4<u32>(first) + vec4<u32>(0u, 1u, 2u, 3u), last) * row_words;
    let rb = min(vec4<u32>(first) + vec4<u32>(4u, 5u, 6u, 7u), last) * row_words;
    var acc_a = vec4<f32>(0.0);
    var acc_b = vec4<f32>(0.0);
    var xb = p.x_offset;
    for (var o = 0u; o < row_words; o += 17u) {
        // Block 0: q₀ q₁ in the high half of word 0, q₃₀ q₃₁ in the low half of word 8.
        let x0 = x[xb];
        let x1 = x[xb + 1u];
        let x30 = x[xb + 30u];
        let x31 = x[xb + 31u];
        let head = vec4<f32>(0.0, 0.0, x0 * LANE_SCALE.z, x1 * LANE_SCALE.w);
        let tail = vec4<f32>(x30, x31 * LANE_SCALE.y, 0.0, 0.0);
        let w0a = words(ra, o);
        let w0b = words(rb, o);
        let w8a = words(ra, o + 8u);
        let w8b = words(rb, o + 8u);
        var s0a = dots(w0a, head) + dots(w8a, tail);
        var s0b = dots(w0b, head) + dots(w8b, tail);
        var biased0 = vec4<f32>(x0 + x30 + x31, 0.0, 0.0, 0.0);
        for (var j = 1u; j < 8u; j++) {
            let xr = x4(xb + 4u * j - 2u);
            biased0 += xr;
            let xs = xr * LANE_SCALE;
            s0a += dots(words(ra, o + j), xs);
            s0b += dots(words(rb, o + j), xs);
        }
        // Block 1: words 9..16, aligned.
        var s1a = vec4<f32>(0.0);
        var s1b = vec4<f32>(0.0);
        var biased1 = vec4<f32>(0.0);
        for (var j = 0u; j < 8u; j++) {
            let xr = x4(xb + 32u + 4u * j);
            biased1 += xr;
            let xs = xr * LANE_SCALE;
            s1a += dots(words(ra, o + 9u + j), xs);
            s1b += dots(words(rb, o + 9u + j), xs);
        }
        let bias0 = 128.0 * dot(biased0, BIASED_LANES);
        let bias1 = 128.0 * dot(biased1, BIASED_LANES);
        acc_a += low_halves(w0a) * (s0a - bias0) + high_halves(w8a) * (s1a - bias1);
        acc_b += low_halves(w0b) * (s0b - bias0) + high_halves(w8b) * (s1b - bias1);
        xb += 64u;
    }
    for (var r = 0u; r < 4u; r++) {
        store_y(first + r, acc_a[r]);
        store_y(first + 4u + r, acc_b[r]);
    }
}
