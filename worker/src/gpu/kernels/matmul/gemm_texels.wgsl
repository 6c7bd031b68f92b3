// GEMM for prefill on software adapters, with Q6_K or Q8_0 weights in texel runs: the
// arithmetic of gemv_texels.wgsl (read it first) for one row group (16 rows) × 4 tokens per
// invocation, the tokens as the components of a vec4 (gemm_tokens.wgsl), so each level texel
// is read and taken apart once for 4 tokens and each x read serves 16 rows. A workgroup covers
// 128 rows × 4 tokens. Concatenated after gemm_io.wgsl, byte_lanes.wgsl, gemm_tokens.wgsl, one
// texel-type snippet and texels.wgsl.

const WG: u32 = 8u;

// s + four rows' level texels (q) against each token's scaled x, 4 columns per matrix.
fn add_quad(s: mat4x4<f32>, q: QuadWords, x0: mat4x4<f32>, x1: mat4x4<f32>, x2: mat4x4<f32>, x3: mat4x4<f32>) -> mat4x4<f32> {
    return add_dots(add_dots(add_dots(add_dots(s, q.a, x0), q.b, x1), q.c, x2), q.d, x3);
}

@compute @workgroup_size(WG)
fn main(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(local_invocation_index) lane: u32,
) {
    let tile = invocation_tile(wg.x + wg.y * groups.x, lane, WG, 16u);
    let first = tile.x;
    let t0 = tile.y;
    if (first >= p.rows) {
        return;
    }
    let runs = p.cols / RUN_WEIGHTS;
    var at = run_at(first / 16u * runs, p.line_runs);
    // Tokens past the end read the last one again and are not stored.
    let tokens = min(vec4<u32>(t0) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(p.n_tokens - 1u)) * p.cols;
    let zero = mat4x4<f32>(vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0));
    var acc_a = zero;
    var acc_b = zero;
    var acc_c = zero;
    var acc_d = zero;
    var k = 0u;
    for (var r = 0u; r < runs; r++) {
        // Row r's sums for each token in column r.
        var sa = zero;
        var sb = zero;
        var sc = zero;
        var sd = zero;
        // Each token's Σx per byte lane, in its column.
        var xsum = zero;
        for (var h = 0u; h < RUN_WEIGHTS; h += 16u) {
            let x0 = xs4(tokens, k + h);
            let x1 = xs4(tokens, k + h + 4u);
            let x2 = xs4(tokens, k + h + 8u);
            let x3 = xs4(tokens, k + h + 12u);
            xsum += x0 + x1 + x2 + x3;
            let s0 = scaled(x0);
            let s1 = scaled(x1);
            let s2 = scaled(x2);
            let s3 = scaled(x3);
            sa = add_quad(sa, quad_words(at, h), s0, s1, s2, s3);
            sb = add_quad(sb, quad_words(at, h + 4u), s0, s1, s2, s3);
            sc = add_quad(sc, quad_words(at, h + 8u), s0, s1, s2, s3);
            sd = add_quad(sd, quad_words(at, h + 12u), s0, s1, s2, s3);
        }
        let offset = LEVEL_OFFSET * (OFFSET_LANES * xsum);
        acc_a = add_scaled(acc_a, run_scales(at, 0u), sa, offset);
        acc_b = add_scaled(acc_b, run_scales(at, 1u), sb, offset);
        acc_c = add_scaled(acc_c, run_scales(at, 2u), sc, offset);
        acc_d = add_scaled(acc_d, run_scales(at, 3u), sd, offset);
        at = next_run(at, p.line_runs);
        k += RUN_WEIGHTS;
    }
    store4(first, t0, acc_a);
    store4(first + 4u, t0, acc_b);
    store4(first + 8u, t0, acc_c);
    store4(first + 12u, t0, acc_d);
}
