// GEMM for prefill on software adapters, Q8_0 weights re-encoded at upload to word-aligned
// 9-word blocks: the arithmetic of gemv_rows_q8_0_words.wgsl (read it first) for 16 rows × 4
// tokens per invocation, the tokens as the components of a vec4 (gemm_tokens.wgsl), so each
// weight word is read and taken apart once for 4 tokens and each x read (a gather, like every
// read) serves 16 rows. With this and the Q6_K GEMM alike, SmolLM2's prefill on SwiftShader
// went from 18 tok/s (4 rows) to 22 (8 rows) and 26.5 (16 rows). A workgroup covers 128 rows ×
// 4 tokens. Concatenated after gemm_io.wgsl, byte_lanes.wgsl and gemm_tokens.wgsl.

const WG: u32 = 8u;
const ROWS: u32 = 16u;
const BLOCK_WORDS: u32 = 9u;

// Σ over each token's 4 columns of x, on the biased lanes.
fn biased(x: mat4x4<f32>) -> vec4<f32> {
    return vec4<f32>(dot(x[0], BIASED_LANES), dot(x[1], BIASED_LANES), dot(x[2], BIASED_LANES), dot(x[3], BIASED_LANES));
}

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
    let row_words = p.cols / 32u * BLOCK_WORDS;
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
        var sa = mat4x4<f32>(vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0));
        var sb = sa;
        var sc = sa;
        var sd = sa;
        var bias = vec4<f32>(0.0);
        for (var j = 0u; j < 8u; j++) {
            let xr = xs4(tokens, k + 4u * j);
            bias += biased(xr);
            let xs = scaled(xr);
            sa = add_dots(sa, quad_words(rows.a, o + j), xs);
            sb = add_dots(sb, quad_words(rows.b, o + j), xs);
            sc = add_dots(sc, quad_words(rows.c, o + j), xs);
            sd = add_dots(sd, quad_words(rows.d, o + j), xs);
        }
        let b = 128.0 * bias;
        acc_a = add_scaled(acc_a, bitcast<vec4<f32>>(quad_words(rows.a, o + 8u)), sa, b);
        acc_b = add_scaled(acc_b, bitcast<vec4<f32>>(quad_words(rows.b, o + 8u)), sb, b);
        acc_c = add_scaled(acc_c, bitcast<vec4<f32>>(quad_words(rows.c, o + 8u)), sc, b);
        acc_d = add_scaled(acc_d, bitcast<vec4<f32>>(quad_words(rows.d, o + 8u)), sd, b);
        k += 32u;
    }
    store4(4u * first, t0, acc_a);
    store4(4u * (first + 4u), t0, acc_b);
    store4(4u * (first + 8u), t0, acc_c);
    store4(4u * (first + 12u), t0, acc_d);
}
