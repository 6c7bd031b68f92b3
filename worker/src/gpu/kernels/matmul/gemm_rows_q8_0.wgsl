// GEMM for prefill on software adapters (SwiftShader, lavapipe), Q8_0 weights whose rows hold
// an even number of blocks: the arithmetic of gemv_rows_q8_0.wgsl (read it first), applied to
// 4 tokens at once. Each invocation computes 4 rows × 4 tokens; the 4 tokens are the components
// of one vec4, so each weight word is read and taken apart once and serves 4 tokens, and each
// x read serves 4 rows. A workgroup covers 64 rows × 4 tokens.
// Concatenated after gemm_io.wgsl, byte_lanes.wgsl and gemm_tokens.wgsl.

const WG: u32 = 16u;
const ROWS: u32 = 4u;

// The same weight word against each token's (scaled) x: one component per token.
fn dots(w: u32, x: mat4x4<f32>) -> vec4<f32> {
    return token_dots(q8_lanes(w), x);
}

fn biased(x: mat4x4<f32>) -> vec4<f32> {
    return vec4<f32>(dot(x[0], BIASED_LANES), dot(x[1], BIASED_LANES), dot(x[2], BIASED_LANES), dot(x[3], BIASED_LANES));
}

@compute @workgroup_size(WG)
fn main(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(local_invocation_index) lane: u32,
) {
    let group = wg.x + wg.y * groups.x;
    let token_tiles = (p.n_tokens + TOKENS - 1u) / TOKENS;
    if (group >= p.row_tiles * token_tiles) {
        return;
    }
    let first = ((group % p.row_tiles) * WG + lane) * ROWS;
    let t0 = (group / p.row_tiles) * TOKENS;
    if (first >= p.rows) {
        return;
    }
    let row_words = p.cols / 64u * 17u;
    // Rows and tokens past the end read the last one again and are not stored.
    let rows = min(vec4<u32>(first) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(p.rows - 1u)) * row_words;
    let tokens = min(vec4<u32>(t0) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(p.n_tokens - 1u)) * p.cols;
    var acc = mat4x4<f32>(vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0));
    var k = 0u;
    for (var o = 0u; o < row_words; o += 17u) {
        // Block 0: q₀ q₁ in the high half of word 0, q₃₀ q₃₁ in the low half of word 8.
        let xh = xs4(tokens, k);
        let xt = xs4(tokens, k + 28u);
        let head = mat4x4<f32>(
            vec4<f32>(0.0, 0.0, xh[0].x * LANE_SCALE.z, xh[0].y * LANE_SCALE.w),
            vec4<f32>(0.0, 0.0, xh[1].x * LANE_SCALE.z, xh[1].y * LANE_SCALE.w),
            vec4<f32>(0.0, 0.0, xh[2].x * LANE_SCALE.z, xh[2].y * LANE_SCALE.w),
            vec4<f32>(0.0, 0.0, xh[3].x * LANE_SCALE.z, xh[3].y * LANE_SCALE.w),
        );
        let tail = mat4x4<f32>(
            vec4<f32>(xt[0].z, xt[0].w * LANE_SCALE.y, 0.0, 0.0),
            vec4<f32>(xt[1].z, xt[1].w * LANE_SCALE.y, 0.0, 0.0),
            vec4<f32>(xt[2].z, xt[2].w * LANE_SCALE.y, 0.0, 0.0),
            vec4<f32>(xt[3].z, xt[3].w * LANE_SCALE.y, 0.0, 0.0),
        );
        var bias0 = vec4<f32>(xh[0].x + xt[0].z + xt[0].w, xh[1].x + xt[1].z + xt[1].w, xh[2].x + xt[2].z + xt[2].w, xh[3].x + xt[3].z + xt[3].w);
        let w0 = vec4<u32>(W[rows.x + o], W[rows.y + o], W[rows.z + o], W[rows.w + o]);
        let w8 = vec4<u32>(W[rows.x + o + 8u], W[rows.y + o + 8u], W[rows.z + o + 8u], W[rows.w + o + 8u]);
        var s0 = mat4x4<f32>(
            dots(w0.x, head) + dots(w8.x, tail),
            dots(w0.y, head) + dots(w8.y, tail),
            dots(w0.z, head) + dots(w8.z, tail),
            dots(w0.w, head) + dots(w8.w, tail),
        );
        for (var j = 1u; j < 8u; j++) {
            let xr = xs4(tokens, k + 4u * j - 2u);
            bias0 += biased(xr);
            let xs = scaled(xr);
            s0[0] += dots(W[rows.x + o + j], xs);
            s0[1] += dots(W[rows.y + o + j], xs);
            s0[2] += dots(W[rows.z + o + j], xs);
            s0[3] += dots(W[rows.w + o + j], xs);
        }
        // Block 1: words 9..16, aligned.
        var s1 = mat4x4<f32>(vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0));
        var bias1 = vec4<f32>(0.0);
        for (var j = 0u; j < 8u; j++) {
            let xr = xs4(tokens, k + 32u + 4u * j);
            bias1 += biased(xr);
            let xs = scaled(xr);
            s1[0] += dots(W[rows.x + o + 9u + j], xs);
            s1[1] += dots(W[rows.y + o + 9u + j], xs);
            s1[2] += dots(W[rows.z + o + 9u + j], xs);
            s1[3] += dots(W[rows.w + o + 9u + j], xs);
        }
        let d0 = vec4<f32>(unpack2x16float(w0.x).x, unpack2x16float(w0.y).x, unpack2x16float(w0.z).x, unpack2x16float(w0.w).x);
        let d1 = vec4<f32>(unpack2x16float(w8.x).y, unpack2x16float(w8.y).y, unpack2x16float(w8.z).y, unpack2x16float(w8.w).y);
        let b0 = 128.0 * bias0;
        let b1 = 128.0 * bias1;
        acc[0] += d0.x * (s0[0] - b0) + d1.x * (s1[0] - b1);
        acc[1] += d0.y * (s0[1] - b0) + d1.y * (s1[1] - b1);
        acc[2] += d0.z * (s0[2] - b0) + d1.z * (s1[2] - b1);
        acc[3] += d0.w * (s0[3] - b0) + d1.w * (s1[3] - b1);
        k += 64u;
    }
    store(first, t0, acc[0]);
    store(first + 1u, t0, acc[1]);
    store(first + 2u, t0, acc[2]);
    store(first + 3u, t0, acc[3]);
}
