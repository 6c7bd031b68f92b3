// GEMM for prefill on software adapters, with Q6_K or Q8_0 weights in texel runs: the
// arithmetic of gemv_texels.wgsl (read it first) for one row group (16 rows) × 4 tokens per
// invocation, the tokens as the components of a vec4 (gemm_tokens.wgsl), so each level texel
// is read and taken apart once for 4 tokens and each x read serves 16 rows. A workgroup covers
// 128 rows × 4 tokens. Concatenated after gemm_io.wgsl, byte_lanes.wgsl, gemm_tokens.wgsl, one
// texel-type snippet and texels.wgsl.

const WG: u32 = 8u;

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
            // Word by word: x of one word (4 columns × 4 tokens) live at a time, each texel
            // read once per word. Holding a texel's 4 words and their 16 columns of x instead
            // spills so many registers on SwiftShader that prefill ran 15% slower.
            for (var j = 0u; j < 4u; j++) {
                let xr = xs4(tokens, k + h + 4u * j);
                xsum += xr;
                let xs = scaled(xr);
                sa = add_dots(sa, quad_word(at, h, j), xs);
                sb = add_dots(sb, quad_word(at, h + 4u, j), xs);
                sc = add_dots(sc, quad_word(at, h + 8u, j), xs);
                sd = add_dots(sd, quad_word(at, h + 12u, j), xs);
            }
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
