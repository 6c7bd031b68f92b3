// GEMV for decode on software adapters, Q6_K weights re-encoded at upload to one byte per level
// (gpu/weight_encoding.rs: 80-word blocks of 64 words of levels, then 16 f32 sub-block scales).
// Rebuilding 6-bit levels from nibbles and high bits cost more on a CPU driver than the extra
// memory this reads: per weight it runs 2.5× faster on SwiftShader than the kernel on the GGUF
// bytes did (1.5 against 0.6 weights/ns). Concatenated after gemv_io.wgsl and byte_lanes.wgsl;
// what costs on a CPU driver is in gemv_rows_q8_0_words.wgsl's header.
//
// Each invocation computes 16 rows (every x read serves 16 rows). Per 16-weight sub-block, the
// levels are taken apart with masks like Q8_0's bytes (no shift; below 128, so no sign trick)
// and the −32 offset is applied once per sub-block as 32·Σx.

const WG: u32 = 8u;
const ROWS: u32 = 16u;
const BLOCK_WORDS: u32 = 80u;

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
    let row_words = p.cols / 256u * BLOCK_WORDS;
    start_weights();
    let rows = rows16(first, p.rows);
    var acc_a = vec4<f32>(0.0);
    var acc_b = vec4<f32>(0.0);
    var acc_c = vec4<f32>(0.0);
    var acc_d = vec4<f32>(0.0);
    var xb = p.x_offset;
    for (var o = 0u; o < row_words; o += BLOCK_WORDS) {
        for (var s = 0u; s < 16u; s++) {
            var sa = vec4<f32>(0.0);
            var sb = vec4<f32>(0.0);
            var sc = vec4<f32>(0.0);
            var sd = vec4<f32>(0.0);
            var xsum = vec4<f32>(0.0);
            for (var j = 0u; j < 4u; j++) {
                let xr = x4(xb + 16u * s + 4u * j);
                xsum += xr;
                let xs = xr * LANE_SCALE;
                let at = o + 4u * s + j;
                sa += row_dots(words(rows.a, at), xs);
                sb += row_dots(words(rows.b, at), xs);
                sc += row_dots(words(rows.c, at), xs);
                sd += row_dots(words(rows.d, at), xs);
            }
            let offset = 32.0 * (xsum.x + xsum.y + xsum.z + xsum.w);
            let scale = o + 64u + s;
            acc_a += bitcast<vec4<f32>>(words(rows.a, scale)) * (sa - offset);
            acc_b += bitcast<vec4<f32>>(words(rows.b, scale)) * (sb - offset);
            acc_c += bitcast<vec4<f32>>(words(rows.c, scale)) * (sc - offset);
            acc_d += bitcast<vec4<f32>>(words(rows.d, scale)) * (sd - offset);
        }
        xb += 256u;
    }
    store_rows16(first, acc_a, acc_b, acc_c, acc_d);
}
