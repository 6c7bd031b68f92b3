// GEMM for prefill on software adapters, Q6_K weights re-encoded at upload to one byte per
// level: the arithmetic of gemv_rows_q6_k_bytes.wgsl (read it first) for 4 rows × 4 tokens per
// invocation, the tokens as the components of a vec4 (gemm_tokens.wgsl), so each weight word is
// read and taken apart once for 4 tokens and each x read serves 4 rows. A workgroup covers
// 64 rows × 4 tokens. Concatenated after gemm_io.wgsl, byte_lanes.wgsl and gemm_tokens.wgsl.

const WG: u32 = 16u;
const ROWS: u32 = 4u;
const BLOCK_WORDS: u32 = 69u;

// Σ (q − 32)·x over the 16 weights from word `at` of the 4 rows, for each token (x from
// column k): row r's sums in column r.
fn sub_block(rows: vec4<u32>, at: u32, tokens: vec4<u32>, k: u32) -> mat4x4<f32> {
    var s = mat4x4<f32>(vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0));
    var xsum = vec4<f32>(0.0);
    for (var j = 0u; j < 4u; j++) {
        let xr = xs4(tokens, k + 4u * j);
        xsum += token_sums(xr);
        let xs = scaled(xr);
        let w = words(rows, at + j);
        s[0] += token_dots(unsigned_lanes(w.x), xs);
        s[1] += token_dots(unsigned_lanes(w.y), xs);
        s[2] += token_dots(unsigned_lanes(w.z), xs);
        s[3] += token_dots(unsigned_lanes(w.w), xs);
    }
    let offset = 32.0 * xsum;
    return mat4x4<f32>(s[0] - offset, s[1] - offset, s[2] - offset, s[3] - offset);
}

// acc + each row's sums times its scale c.
fn add_scaled(acc: mat4x4<f32>, c: vec4<f32>, s: mat4x4<f32>) -> mat4x4<f32> {
    return mat4x4<f32>(acc[0] + c.x * s[0], acc[1] + c.y * s[1], acc[2] + c.z * s[2], acc[3] + c.w * s[3]);
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
    let row_words = p.cols / 256u * BLOCK_WORDS;
    // Rows and tokens past the end read the last one again and are not stored.
    let rows = min(vec4<u32>(first) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(p.rows - 1u)) * row_words;
    let tokens = min(vec4<u32>(t0) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(p.n_tokens - 1u)) * p.cols;
    var acc = mat4x4<f32>(vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0));
    var k = 0u;
    for (var o = 0u; o < row_words; o += BLOCK_WORDS) {
        let d = bitcast<vec4<f32>>(words(rows, o + 68u));
        // Scale word s holds the scales of sub-blocks 4s..4s+3, one per byte.
        for (var s = 0u; s < 4u; s++) {
            let sc = words(rows, o + 64u + s);
            let at = o + 16u * s;
            let ks = k + 64u * s;
            acc = add_scaled(acc, d * signed_bytes(sc, LANE_MASK.x, LANE_SCALE.x, 128.0), sub_block(rows, at, tokens, ks));
            acc = add_scaled(acc, d * signed_bytes(sc, LANE_MASK.y, LANE_SCALE.y, 128.0), sub_block(rows, at + 4u, tokens, ks + 16u));
            acc = add_scaled(acc, d * signed_bytes(sc, LANE_MASK.z, LANE_SCALE.z, 128.0), sub_block(rows, at + 8u, tokens, ks + 32u));
            acc = add_scaled(acc, d * signed_bytes(sc, LANE_MASK.w, LANE_SCALE.w, 0.0), sub_block(rows, at + 12u, tokens, ks + 48u));
        }
        k += 256u;
    }
    store(first, t0, acc[0]);
    store(first + 1u, t0, acc[1]);
    store(first + 2u, t0, acc[2]);
    store(first + 3u, t0, acc[3]);
}
