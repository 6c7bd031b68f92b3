// GEMM for prefill on software adapters, Q6_K weights re-encoded at upload to one byte per
// level: the arithmetic of gemv_rows_q6_k_bytes.wgsl (read it first) for 4 rows × 4 tokens per
// invocation, the tokens as the components of a vec4 (gemm_tokens.wgsl), so each weight word is
// read and taken apart once for 4 tokens and each x read serves 4 rows. A workgroup covers
// 64 rows × 4 tokens. Concatenated after gemm_io.wgsl, byte_lanes.wgsl and gemm_tokens.wgsl.

const WG: u32 = 16u;
const ROWS: u32 = 4u;
const BLOCK_WORDS: u32 = 80u;

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
    let row_words = p.cols / 256u * BLOCK_WORDS;
    // Rows and tokens past the end read the last one again and are not stored.
    let rows = min(vec4<u32>(first) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(p.rows - 1u)) * row_words;
    let tokens = min(vec4<u32>(t0) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(p.n_tokens - 1u)) * p.cols;
    var acc = mat4x4<f32>(vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0));
    var k = 0u;
    for (var o = 0u; o < row_words; o += BLOCK_WORDS) {
        for (var s = 0u; s < 16u; s++) {
            // Row r's sums for each token in column r.
            var sums = mat4x4<f32>(vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0));
            var xsum = vec4<f32>(0.0);
            for (var j = 0u; j < 4u; j++) {
                let xr = xs4(tokens, k + 16u * s + 4u * j);
                xsum += token_sums(xr);
                let xs = scaled(xr);
                let w = words(rows, o + 4u * s + j);
                sums[0] += token_dots(word_lanes(w.x), xs);
                sums[1] += token_dots(word_lanes(w.y), xs);
                sums[2] += token_dots(word_lanes(w.z), xs);
                sums[3] += token_dots(word_lanes(w.w), xs);
            }
            let offset = 32.0 * xsum;
            let scale = bitcast<vec4<f32>>(words(rows, o + 64u + s));
            acc[0] += scale.x * (sums[0] - offset);
            acc[1] += scale.y * (sums[1] - offset);
            acc[2] += scale.z * (sums[2] - offset);
            acc[3] += scale.w * (sums[3] - offset);
        }
        k += 256u;
    }
    store(first, t0, acc[0]);
    store(first + 1u, t0, acc[1]);
    store(first + 2u, t0, acc[2]);
    store(first + 3u, t0, acc[3]);
}
