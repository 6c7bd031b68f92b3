// GEMV for Q6_K weights in their GGUF encoding, on GPUs: gemv.wgsl's work with the loads laid
// out for a GPU's memory system. Concatenated after common.wgsl, gemv_io.wgsl and
// gemv_team.wgsl.
//
// A Q6_K block (210 bytes, 256 weights): ql[128], qh[64], i8 scales[16], f16 d. Byte l of the
// 32 at ql[64h + 32s] holds, in its low nibble, weight 128h + 32s + l and, in its high one,
// weight 128h + 64 + 32s + l; their two high bits are bits 2s, 2s + 1 and 2s + 4, 2s + 5 of
// qh[32h + l]. Weight i has scale scales[i / 16], and w = d · scale · (q − 32).
//
// A team of 32 lanes per row (gemv_team.wgsl) takes the row's blocks two at a time: 16 lanes a block. Lane i2 of a block's 16 reads, in half h = i2 / 8, the ql words of
// bytes l..l+3 (l = 4 · (i2 % 8)) of both sub-blocks (the 16 lanes read the 128 ql bytes side
// by side), the one qh word that holds both words' high bits, its 4 scales and d: 16 weights a
// lane per block. (gemv.wgsl's lanes take a 16-weight chunk each instead, so a row's lanes
// gather from 2 blocks at once and each load touches several cache lines.) On an H200
// (Llama-3.2-1B shape, the same run) a decode step took 2.80 ms with 8 weights a lane (32 lanes
// a block), 2.52 with 16, 2.72 with 32 (8 lanes a block) and 3.5 with 16 and two rows a team
// (half the workgroups).

const BLOCK_WEIGHTS: u32 = 256u;
const BLOCK_BYTES: u32 = 210u;

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
    start_input(lane);
    let i = lane % LANES;
    let row = first + lane / LANES;
    let valid = row < p.rows;
    let blocks = p.cols / BLOCK_WEIGHTS;
    let row_byte = row * blocks * BLOCK_BYTES;
    // Lane i takes block `sel` of each pair, half h, bytes l..l+3 of both sub-blocks.
    let sel = i / 16u;
    let i2 = i % 16u;
    let h = i2 / 8u;
    let m = i2 % 8u;
    let qa = 4u * (16u * h + m);
    let qb = qa + 32u;
    let qh_off = 128u + 32u * h + 4u * m;
    let sc0 = 192u + 8u * h + m / 4u;
    let xv = 32u * h + m;

    var acc = 0.0;
    for (var t0 = 0u; t0 < p.cols; t0 += XTILE) {
        let n = min(XTILE, p.cols - t0);
        stage_x(lane, t0, n);
        if (valid) {
            let b0 = t0 / BLOCK_WEIGHTS;
            let nb = n / BLOCK_WEIGHTS;
            for (var bt = sel; bt < nb; bt += 2u) {
                let b = row_byte + (b0 + bt) * BLOCK_BYTES;
                let ql0 = load_u32(b + qa);
                let ql1 = load_u32(b + qb);
                let qh = load_u32(b + qh_off);
                let lo0 = (ql0 & 0x0F0F0F0Fu) | ((qh & 0x03030303u) << 4u);
                let hi0 = ((ql0 >> 4u) & 0x0F0F0F0Fu) | (((qh >> 4u) & 0x03030303u) << 4u);
                let lo1 = (ql1 & 0x0F0F0F0Fu) | (((qh >> 2u) & 0x03030303u) << 4u);
                let hi1 = ((ql1 >> 4u) & 0x0F0F0F0Fu) | (((qh >> 6u) & 0x03030303u) << 4u);
                let sc_lo0 = f32(bitcast<i32>(load_u8(b + sc0) << 24u) >> 24u);
                let sc_lo1 = f32(bitcast<i32>(load_u8(b + sc0 + 2u) << 24u) >> 24u);
                let sc_hi0 = f32(bitcast<i32>(load_u8(b + sc0 + 4u) << 24u) >> 24u);
                let sc_hi1 = f32(bitcast<i32>(load_u8(b + sc0 + 6u) << 24u) >> 24u);
                let x0 = bt * (BLOCK_WEIGHTS / 4u) + xv;
                let c32 = vec4<f32>(32.0);
                let sum = sc_lo0 * dot(bytes4(lo0) - c32, xs[x0])
                    + sc_hi0 * dot(bytes4(hi0) - c32, xs[x0 + 16u])
                    + sc_lo1 * dot(bytes4(lo1) - c32, xs[x0 + 8u])
                    + sc_hi1 * dot(bytes4(hi1) - c32, xs[x0 + 24u]);
                acc += load_f16(b + 208u) * sum;
            }
        }
    }

    let total = team_sum(lane, acc);
    if (i == 0u) {
        store_y(row, total);
    }
}
