// GEMV for decode on software adapters, Q6_K weights re-encoded at upload to one byte per level
// (gpu/weight_encoding.rs: 80-word blocks of 64 words of levels, then 16 f32 sub-block scales).
// Rebuilding 6-bit levels from nibbles and high bits cost more on a CPU driver than the extra
// memory this reads: per weight it runs 2.5× faster on SwiftShader than the kernel on the GGUF
// bytes did (1.5 against 0.6 weights/ns). Concatenated after gemv_io.wgsl and byte_lanes.wgsl;
// what costs on a CPU driver is in gemv_rows_q8_0_words.wgsl's header.
//
// Each invocation computes 32 rows from row quads, as gemv_rows_q8_0_words.wgsl does. Per
// 16-weight sub-block, the levels are taken apart with masks like Q8_0's bytes (no shift; below
// 128, so no sign trick) and the −32 offset is applied once per sub-block as 32·Σx.

const WG: u32 = 4u;
const ROWS: u32 = 32u;
const BLOCK_WORDS: u32 = 80u;

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
    let row_words = p.cols / 256u * BLOCK_WORDS;
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
        for (var s = 0u; s < 16u; s++) {
            var sa = vec4<f32>(0.0);
            var sb = vec4<f32>(0.0);
            var sc = vec4<f32>(0.0);
            var sd = vec4<f32>(0.0);
            var se = vec4<f32>(0.0);
            var sf = vec4<f32>(0.0);
            var sg = vec4<f32>(0.0);
            var sh = vec4<f32>(0.0);
            var xsum = vec4<f32>(0.0);
            for (var j = 0u; j < 4u; j++) {
                let xr = x4(xb + 16u * s + 4u * j);
                xsum += xr;
                let xs = xr * LANE_SCALE;
                let at = o + 4u * s + j;
                sa += row_dots(quad_words(lo.a, at), xs);
                sb += row_dots(quad_words(lo.b, at), xs);
                sc += row_dots(quad_words(lo.c, at), xs);
                sd += row_dots(quad_words(lo.d, at), xs);
                se += row_dots(quad_words(hi.a, at), xs);
                sf += row_dots(quad_words(hi.b, at), xs);
                sg += row_dots(quad_words(hi.c, at), xs);
                sh += row_dots(quad_words(hi.d, at), xs);
            }
            let offset = 32.0 * (xsum.x + xsum.y + xsum.z + xsum.w);
            let scale = o + 64u + s;
            acc_a += bitcast<vec4<f32>>(quad_words(lo.a, scale)) * (sa - offset);
            acc_b += bitcast<vec4<f32>>(quad_words(lo.b, scale)) * (sb - offset);
            acc_c += bitcast<vec4<f32>>(quad_words(lo.c, scale)) * (sc - offset);
            acc_d += bitcast<vec4<f32>>(quad_words(lo.d, scale)) * (sd - offset);
            acc_e += bitcast<vec4<f32>>(quad_words(hi.a, scale)) * (se - offset);
            acc_f += bitcast<vec4<f32>>(quad_words(hi.b, scale)) * (sf - offset);
            acc_g += bitcast<vec4<f32>>(quad_words(hi.c, scale)) * (sg - offset);
            acc_h += bitcast<vec4<f32>>(quad_words(hi.d, scale)) * (sh - offset);
        }
        xb += 256u;
    }
    store_quads4(first, acc_a, acc_b, acc_c, acc_d);
    store_quads4(first + 16u, acc_e, acc_f, acc_g, acc_h);
}
