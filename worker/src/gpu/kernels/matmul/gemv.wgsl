// GEMV for decode: y[row_offset + r] (+)= Σ_k W[r, k] · x[x_offset + k] for the rows of one
// weight part. Concatenated after common.wgsl, one dequant_*.wgsl snippet, gemv_io.wgsl and
// gemv_team.wgsl.
//
// A team of 32 lanes per row (gemv_team.wgsl): each lane takes every 32nd 16-weight chunk of
// its row and accumulates in f32.

@compute @workgroup_size(WG)
fn main(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(local_invocation_index) lane: u32,
) {
    let first = (wg.x + wg.y * groups.x) * ROWS_PER_WG;
    if (first >= p.rows) {
        return;
    }
    let sub = lane % LANES;
    let row = first + lane / LANES;
    let valid = row < p.rows;
    let chunks_per_block = BLOCK_WEIGHTS / 16u;
    let row_byte = row * (p.cols / BLOCK_WEIGHTS) * BLOCK_BYTES;

    var acc = 0.0;
    for (var t0 = 0u; t0 < p.cols; t0 += XTILE) {
        let n = min(XTILE, p.cols - t0);
        stage_x(lane, t0, n);
        if (valid) {
            let c0 = t0 / 16u;
            for (var k = sub; k < n / 16u; k += LANES) {
                let chunk = c0 + k;
                let w = dequant16(row_byte + (chunk / chunks_per_block) * BLOCK_BYTES, chunk % chunks_per_block);
                let xi = 4u * k;
                acc += dot(w[0], xs[xi]) + dot(w[1], xs[xi + 1u]) + dot(w[2], xs[xi + 2u]) + dot(w[3], xs[xi + 3u]);
            }
        }
    }

    let scale = input_scale(lane);
    store_row(lane, row, team_sum(lane, acc) * scale);
}
