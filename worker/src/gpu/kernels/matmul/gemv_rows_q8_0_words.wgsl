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
// So each invocation computes 16 rows (every x read serves 16 rows: 1.9 weights/ns on
// SwiftShader, against 1.6 with 8 rows and 1.1 with 4, 1.75 with 24 or 32), reads each weight
// word once as an aligned u32, and takes bytes apart with masks and an i32 → f32 conversion,
// never with a shift (byte_lanes.wgsl).

const WG: u32 = 8u;
const ROWS: u32 = 16u;
const BLOCK_WORDS: u32 = 9u;

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
    let row_words = p.cols / 32u * BLOCK_WORDS;
    start_weights();
    let rows = rows16(first, p.rows);
    var acc_a = vec4<f32>(0.0);
    var acc_b = vec4<f32>(0.0);
    var acc_c = vec4<f32>(0.0);
    var acc_d = vec4<f32>(0.0);
    var xb = p.x_offset;
    for (var o = 0u; o < row_words; o += BLOCK_WORDS) {
        var sa = vec4<f32>(0.0);
        var sb = vec4<f32>(0.0);
        var sc = vec4<f32>(0.0);
        var sd = vec4<f32>(0.0);
        var biased = vec4<f32>(0.0);
        for (var j = 0u; j < 8u; j++) {
            let xr = x4(xb + 4u * j);
            biased += xr;
            let xs = xr * LANE_SCALE;
            sa += row_dots(words(rows.a, o + j), xs);
            sb += row_dots(words(rows.b, o + j), xs);
            sc += row_dots(words(rows.c, o + j), xs);
            sd += row_dots(words(rows.d, o + j), xs);
        }
        let bias = 128.0 * dot(biased, BIASED_LANES);
        acc_a += bitcast<vec4<f32>>(words(rows.a, o + 8u)) * (sa - bias);
        acc_b += bitcast<vec4<f32>>(words(rows.b, o + 8u)) * (sb - bias);
        acc_c += bitcast<vec4<f32>>(words(rows.c, o + 8u)) * (sc - bias);
        acc_d += bitcast<vec4<f32>>(words(rows.d, o + 8u)) * (sd - bias);
        xb += 32u;
    }
    store_rows16(first, acc_a, acc_b, acc_c, acc_d);
}
