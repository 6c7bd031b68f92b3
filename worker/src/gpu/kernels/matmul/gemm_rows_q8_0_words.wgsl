// GEMM for prefill on software adapters, Q8_0 weights re-encoded at upload to word-aligned
// 9-word blocks: the arithmetic of gemv_rows_q8_0_words.wgsl (read it first) for 4 rows × 4
// tokens per invocation, the tokens as the components of a vec4 (gemm_tokens.wgsl), so each
// weight word is read and taken apart once for 4 tokens and each x read serves 4 rows. A
// workgroup covers 64 rows × 4 tokens. Concatenated after gemm_io.wgsl, byte_lanes.wgsl and
// gemm_tokens.wgsl.

const WG: u32 = 16u;
const ROWS: u32 = 4u;
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
    let row_words = p.cols / 32u * BLOCK_WORDS;
    // Rows and tokens past the end read the last one again and are not stored.
    let rows = min(vec4<u32>(first) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(p.rows - 1u)) * row_words;
    let tokens = min(vec4<u32>(t0) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(p.n_tokens - 1u)) * p.cols;
    var acc = mat4x4<f32>(vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0));
    var k = 0u;
    for (var o = 0u; o < row_words; o += BLOCK_WORDS) {
        var s = mat4x4<f32>(vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0));
        var bias = vec4<f32>(0.0);
        for (var j = 0u; j < 8u; j++) {
            let xr = xs4(tokens, k + 4u * j);
            bias += biased(xr);
            let xs = scaled(xr);
            let w = words(rows, o + j);
            s[0] += token_dots(word_lanes(w.x), xs);
            s[1] += token_dots(word_lanes(w.y), xs);
            s[2] += token_dots(word_lanes(w.z), xs);
            s[3] += token_dots(word_lanes(w.w), xs);
        }
        let d = bitcast<vec4<f32>>(words(rows, o + 8u));
        let b = 128.0 * bias;
        acc[0] += d.x * (s[0] - b);
        acc[1] += d.y * (s[1] - b);
        acc[2] += d.z * (s[2] - b);
        acc[3] += d.w * (s[3] - b);
        k += 32u;
    }
    store(first, t0, acc[0]);
    store(first + 1u, t0, acc[1]);
    store(first + 2u, t0, acc[2]);
    store(first + 3u, t0, acc[3]);
}
