// GEMV for Q6_K weights on GPUs, in WeightEncoding::Q6KLanes (gpu/weight_encoding.rs: each
// 256-weight super-block as 53 aligned words in the order these lanes read them). Concatenated
// after common.wgsl, byte_values.wgsl, gemv_io.wgsl and gemv_team.wgsl.
//
// A team of 32 lanes per row (gemv_team.wgsl) takes the row's blocks two at a time: 16 lanes a
// block. Lane i2 = 8h + m of a block's 16 reads its 3 words (the ql words of bytes l..l+3,
// l = 4m, of both sub-blocks of half h, and the qh word that holds their high bits: the 16
// lanes read 192 bytes side by side), one word of its 4 scales, and d: 16 weights a lane per
// block. In the GGUF encoding (210-byte blocks at every other half-word) the same kernel took
// 29–31 µs for a 16384×2048 matrix on an H200, 26 µs here (20–21 µs with the subgroup team
// sum). Before that, on an H200
// (Llama-3.2-1B shape, the same run) a decode step took 2.80 ms with 8 weights a lane (32 lanes
// a block), 2.52 with 16, 2.72 with 32 (8 lanes a block) and 3.5 with 16 and two rows a team
// (half the workgroups).
//
// Where its time goes on an H200 (timing probes, Llama-3.2-1B shape): `lane_dot`'s arithmetic
// is 20–25% of it (without it gate/up took 0.36 ms a step instead of 0.45; the byte-to-float
// conversion is not the costly part: an f16 `1024 + b` form ran no faster), staging x about 6%
// and x's LDS reads 2–4%. Without arithmetic or staging the output head still read only
// 1.9 TB/s against 3.0–3.3 for a plain read: the rest is this load pattern (a warp's load
// touches 6 sectors a block for 2 of use). Reading x per lane from global memory instead of
// staging it took gate/up from 0.46 to 0.74 ms.

const BLOCK_WEIGHTS: u32 = 256u;
const BLOCK_WORDS: u32 = 53u;
// One lane's words of one block: its two ql words, its qh word, its scales' word and d's.
struct LaneWords {
    ql0: u32,
    ql1: u32,
    qh: u32,
    scales: u32,
    d: u32,
}

fn lane_words(b: u32, quants: u32, scales: u32) -> LaneWords {
    return LaneWords(W[b + quants], W[b + quants + 1u], W[b + quants + 2u], W[b + scales], W[b + 52u]);
}

// Σ over the lane's 16 weights of one block of weight · x, x0 the block's first xs vec4 of the
// lane's.
fn lane_dot(w: LaneWords, x0: u32) -> f32 {
    let lo0 = (w.ql0 & 0x0F0F0F0Fu) | ((w.qh & 0x03030303u) << 4u);
    let hi0 = ((w.ql0 >> 4u) & 0x0F0F0F0Fu) | (((w.qh >> 4u) & 0x03030303u) << 4u);
    let lo1 = (w.ql1 & 0x0F0F0F0Fu) | (((w.qh >> 2u) & 0x03030303u) << 4u);
    let hi1 = ((w.ql1 >> 4u) & 0x0F0F0F0Fu) | (((w.qh >> 6u) & 0x03030303u) << 4u);
    // Scales of (lo0, lo1, hi0, hi1).
    let sc = sbytes4(w.scales);
    let sum = sc.x * dot(bytes4_less(lo0, 32.0), xs[x0])
        + sc.z * dot(bytes4_less(hi0, 32.0), xs[x0 + 16u])
        + sc.y * dot(bytes4_less(lo1, 32.0), xs[x0 + 8u])
        + sc.w * dot(bytes4_less(hi1, 32.0), xs[x0 + 24u]);
    return unpack2x16float(w.d).x * sum;
}

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
    let i = lane % LANES;
    // Rows past the part's end read its last row and store nothing.
    let row = first + lane / LANES;
    let read_row = min(row, p.rows - 1u);
    let row_word = read_row * (p.cols / BLOCK_WEIGHTS) * BLOCK_WORDS;
    // Lane i takes block `sel` of each pair, half h, bytes 4m..4m+3 of both sub-blocks.
    let sel = i / 16u;
    let i2 = i % 16u;
    let h = i2 / 8u;
    let m = i2 % 8u;
    let quants = 3u * i2;
    let scales = 48u + 2u * h + m / 4u;
    let xv = 32u * h + m;

    var acc = 0.0;
    for (var t0 = 0u; t0 < p.cols; t0 += XTILE) {
        let n = min(XTILE, p.cols - t0);
        let nb = n / BLOCK_WEIGHTS;
        // The lane's blocks of the tile, sel, sel + 2, sel + 4 and sel + 6 (XTILE holds 8), are
        // loaded before x is staged and before any is used, so that their loads wait for
        // memory together and beside the staging (block by block, a lane waited once per
        // block). A block past the tile's end reads its last one and adds nothing.
        let at = row_word + (t0 / BLOCK_WEIGHTS) * BLOCK_WORDS;
        let w0 = lane_words(at + min(sel, nb - 1u) * BLOCK_WORDS, quants, scales);
        let w1 = lane_words(at + min(sel + 2u, nb - 1u) * BLOCK_WORDS, quants, scales);
        let w2 = lane_words(at + min(sel + 4u, nb - 1u) * BLOCK_WORDS, quants, scales);
        let w3 = lane_words(at + min(sel + 6u, nb - 1u) * BLOCK_WORDS, quants, scales);
        stage_x(lane, t0, n);
        let x0 = sel * (BLOCK_WEIGHTS / 4u) + xv;
        let pair = 2u * (BLOCK_WEIGHTS / 4u);
        if (sel < nb) {
            acc += lane_dot(w0, x0);
        }
        if (sel + 2u < nb) {
            acc += lane_dot(w1, x0 + pair);
        }
        if (sel + 4u < nb) {
            acc += lane_dot(w2, x0 + 2u * pair);
        }
        if (sel + 6u < nb) {
            acc += lane_dot(w3, x0 + 3u * pair);
        }
    }

    let scale = input_scale(lane);
    store_row(lane, row, team_sum(lane, acc) * scale);
}
