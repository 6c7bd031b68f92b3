// GEMM for prefill on software adapters, Q6_K weights re-encoded at upload to one byte per
// level: the arithmetic of gemv_rows_q6_k_bytes.wgsl (read it first) for 16 rows × 4 tokens
// per invocation, the tokens as the components of a vec4 (gemm_tokens.wgsl), so each weight
// word is read and taken apart once for 4 tokens and each x read serves 16 rows (see
// gemm_rows_q8_0_words.wgsl). A workgroup covers 128 rows × 4 tokens. Concatenated after
// gemm_io.wgsl, byte_lanes.wgsl and gemm_tokens.wgsl.

const WG: u32 = 8u;
const ROWS: u32 = 16u;
const BLOCK_WORDS: u32 = 80u;

@compute @workgroup_size(WG)
fn main(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(local_invocation_index) lane: u32,
) {
    let tile = invocation_tile(wg.x + wg.y * groups.x, lane, WG, ROWS);
    let first = tile.x;
    let t0 = tile.y;
    if (4u * first >= p.rows) {
        return;
    }
    let row_words = p.cols / 256u * BLOCK_WORDS;
    // Rows and tokens past the end read the last one again and are not stored.
    start_weights(row_words);
    let rows = quads4(first, p.rows);
    let tokens = min(vec4<u32>(t0) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(p.n_tokens - 1u)) * p.cols;
    var acc_a = mat4x4<f32>(vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0));
    var acc_b = acc_a;
    var acc_c = acc_a;
    var acc_d = acc_a;
    var k = 0u;
    for (var o = 0u; o < row_words; o += BLOCK_WORDS) {
        for (var s = 0u; s < 16u; s++) {
            // Row r's sums for each token in column r.
            var sa = mat4x4<f32>(vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0));
            var sb = sa;
            var sc = sa;
            var sd = sa;
            var xsum = vec4<f32>(0.0);
            for (var j = 0u; j < 4u; j++) {
                let xr = xs4(tokens, k + 16u * s + 4u * j);
                xsum += token_sums(xr);
                let xs = scaled(xr);
                sa = add_dots(sa, quad_words(rows.a, o + 4u * s + j), xs);
                sb = add_dots(sb, quad_words(rows.b, o + 4u * s + j), xs);
                sc = add_dots(sc, quad_words(rows.c, o + 4u * s + j), xs);
                sd = add_dots(sd, quad_words(rows.d, o + 4u * s + j), xs);
            }
            let offset = 32.0 * xsum;
            acc_a = add_scaled(acc_a, bitcast<vec4<f32>>(quad_words(rows.a, o + 64u + s)), sa, offset);
            acc_b = add_scaled(acc_b, bitcast<vec4<f32>>(quad_words(rows.b, o + 64u + s)), sb, offset);
            acc_c = add_scaled(acc_c, bitcast<vec4<f32>>(quad_words(rows.c, o + 64u + s)), sc, offset);
            acc_d = add_scaled(acc_d, bitcast<vec4<f32>>(quad_words(rows.d, o + 64u + s)), sd, offset);
        }
        k += 256u;
    }
    store4(4u * first, t0, acc_a);
    store4(4u * (first + 4u), t0, acc_b);
    store4(4u * (first + 8u), t0, acc_c);
    store4(4u * (first + 12u), t0, acc_d);
}
