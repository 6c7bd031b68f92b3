// GEMM for prefill on software adapters, Q6_K weights whose rows hold an even number of blocks:
// each invocation takes 4 rows for 4 tokens, one token after the other (the rows' words come
// from cache the second time). A workgroup covers 32 rows × 4 tokens.
// Concatenated after gemm_io.wgsl, byte_lanes.wgsl and rows_q6_k.wgsl (the arithmetic).

const WG: u32 = 8u;
const TOKENS: u32 = 4u;

fn x4(i: u32) -> vec4<f32> {
    return vec4<f32>(X[i], X[i + 1u], X[i + 2u], X[i + 3u]);
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
    let row_words = p.cols / 512u * 105u;
    // Rows past the end read the last row again and are not stored.
    let rows = min(vec4<u32>(first) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(p.rows - 1u)) * row_words;
    for (var t = t0; t < min(t0 + TOKENS, p.n_tokens); t++) {
        let acc = q6_k_rows4(rows, row_words, t * p.cols);
        for (var r = 0u; r < ROWS; r++) {
            store_y(t, first + r, acc[r]);
        }
    }
}
