// GEMV for decode on software adapters (SwiftShader, lavapipe), Q8_0 weights re-encoded at
// upload to word-aligned 9-word blocks (gpu/weight_encoding.rs: 8 words of quants, bytes 0..2
// of each biased by 128, then d as f32). Concatenated after gemv_io.wgsl and byte_lanes.wgsl.
//
// A CPU driver runs four (or eight) invocations in the lanes of one SIMD register. What costs
// there is not what costs on a GPU:
// - every storage read whose index is not a constant is a gather, one scalar load per lane,
//   even when every lane reads the same address (x here);
// - a shift by a non-constant-folded amount (every WGSL `<<`/`>>`) is split into one scalar
//   shift per lane by SwiftShader's x86 back end;
// - more live values than registers spill, which is cheap next to a gather, but a fully
//   unrolled loop with constant x indices was 3× slower (code size).
// So each invocation computes 32 rows, reads each weight word as one texel fetch that serves 4
// rows (row quads, row_quads.wgsl), and takes bytes apart with masks and an i32 → f32
// conversion, never with a shift (byte_lanes.wgsl). Every x read (4 gathers for 4 columns)
// serves 32 rows. On SwiftShader in Chromium: from buffers, 16 rows an invocation read 1.9
// weights/ns (8 rows 1.6, 32 rows 1.75); from row quads 2.8–3.0 with 16 rows, 3.2–3.4 with 32
// (576 columns).

const WG: u32 = 4u;
const ROWS: u32 = 32u;
const BLOCK_WORDS: u32 = 9u;

@compute @workgroup_size(WG)
fn main(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(local_invocation_index) lane: u32,
) {
    // The workgroup's quads are interleaved over its lanes: lane j takes quads j, j + 4, ...
    let first = (wg.x + wg.y * groups.x) * WG * (ROWS / 4u) + lane;
    if (4u * first >= p.rows) {
        return;
    }
    let row_words = p.cols / 32u * BLOCK_WORDS;
    start_weights(row_words);
    let lo = quads4(first, p.rows);
    let hi = quads4(first + 16u, p.rows);
    var acc_a = vec4<f32>(0.0);
    var acc_b = vec4<f32>(0.0);
    var acc_c = vec4<f32>(0.0);
    var acc_d = vec4<f32>(0.0);
    var acc_e = vec4<f32>(0.0);
    var acc_f = vec4<f32>(0.0);
    var acc_g = vec4<f32>(0.0);
    var acc_h = vec4<f32>(0.0);
    var xb = p.x_offset;
    for (var o = 0u; o < row_words; o += BLOCK_WORDS) {
        var sa = vec4<f32>(0.0);
        var sb = vec4<f32>(0.0);
        var sc = vec4<f32>(0.0);
        var sd = vec4<f32>(0.0);
        var se = vec4<f32>(0.0);
        var sf = vec4<f32>(0.0);
        var sg = vec4<f32>(0.0);
        var sh = vec4<f32>(0.0);
        var biased = vec4<f32>(0.0);
        for (var j = 0u; j < 8u; j++) {
            let xr = x4(xb + 4u * j);
            biased += xr;
            let xs = xr * LANE_SCALE;
            sa += row_dots(quad_words(lo.a, o + j), xs);
            sb += row_dots(quad_words(lo.b, o + j), xs);
            sc += row_dots(quad_words(lo.c, o + j), xs);
            sd += row_dots(quad_words(lo.d, o + j), xs);
            se += row_dots(quad_words(hi.a, o + j), xs);
            sf += row_dots(quad_words(hi.b, o + j), xs);
            sg += row_dots(quad_words(hi.c, o + j), xs);
            sh += row_dots(quad_words(hi.d, o + j), xs);
        }
        let bias = 128.0 * dot(biased, BIASED_LANES);
        acc_a += bitcast<vec4<f32>>(quad_words(lo.a, o + 8u)) * (sa - bias);
        acc_b += bitcast<vec4<f32>>(quad_words(lo.b, o + 8u)) * (sb - bias);
        acc_c += bitcast<vec4<f32>>(quad_words(lo.c, o + 8u)) * (sc - bias);
        acc_d += bitcast<vec4<f32>>(quad_words(lo.d, o + 8u)) * (sd - bias);
        acc_e += bitcast<vec4<f32>>(quad_words(hi.a, o + 8u)) * (se - bias);
        acc_f += bitcast<vec4<f32>>(quad_words(hi.b, o + 8u)) * (sf - bias);
        acc_g += bitcast<vec4<f32>>(quad_words(hi.c, o + 8u)) * (sg - bias);
        acc_h += bitcast<vec4<f32>>(quad_words(hi.d, o + 8u)) * (sh - bias);
        xb += 32u;
    }
    store_quads4(first, acc_a, acc_b, acc_c, acc_d);
    store_quads4(first + 16u, acc_e, acc_f, acc_g, acc_h);
}
