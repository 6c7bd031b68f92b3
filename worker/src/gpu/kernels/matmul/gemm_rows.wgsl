// GEMM for prefill on software adapters (SwiftShader, lavapipe): the same product and tiling
// of the grid as gemm.wgsl (8 tokens × 64 rows per workgroup), but each invocation computes one
// row for the tile's tokens by itself: each 16-weight chunk is dequantized once and applied to
// every token, with no workgroup memory and no barrier (CPU drivers emulate barriers by
// switching between invocations, which costs more there than the reuse saves).
// Concatenated after common.wgsl, one dequant_*.wgsl snippet and gemm_io.wgsl.

const TT: u32 = 8u;
const TR: u32 = 64u;

@compute @workgroup_size(TR)
fn main(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(local_invocation_index) lane: u32,
) {
    let group = wg.x + wg.y * groups.x;
    let token_tiles = (p.n_tokens + TT - 1u) / TT;
    if (group >= p.row_tiles * token_tiles) {
        return;
    }
    let r = (group % p.row_tiles) * TR + lane;
    let t0 = (group / p.row_tiles) * TT;
    if (r >= p.rows) {
        return;
    }
    let nt = min(TT, p.n_tokens - t0);
    let chunks_per_block = BLOCK_WEIGHTS / 16u;
    let blocks = p.cols / BLOCK_WEIGHTS;
    let row_byte = r * blocks * BLOCK_BYTES;

    var acc: array<vec4<f32>, TT>;
    for (var b = 0u; b < blocks; b++) {
        let block = row_byte + b * BLOCK_BYTES;
        for (var c = 0u; c < chunks_per_block; c++) {
            let w = dequant16(block, c);
            let k = b * BLOCK_WEIGHTS + 16u * c;
            for (var t = 0u; t < nt; t++) {
                let xi = (t0 + t) * p.cols + k;
                acc[t] += w[0] * x4(xi) + w[1] * x4(xi + 4u) + w[2] * x4(xi + 8u) + w[3] * x4(xi + 12u);
            }
        }
    }

    for (var t = 0u; t < nt; t++) {
        store_y(t0 + t, r, acc[t].x + acc[t].y + acc[t].z + acc[t].w);
    }
}
