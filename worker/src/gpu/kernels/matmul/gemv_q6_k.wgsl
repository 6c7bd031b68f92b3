// GEMV for Q6_K weights in their GGUF encoding, on GPUs: gemv.wgsl's work with the loads laid
// out for a GPU's memory system. Concatenated after common.wgsl and gemv_io.wgsl.
//
// A Q6_K block (210 bytes, 256 weights): ql[128], qh[64], i8 scales[16], f16 d. Byte l of the
// 32 at ql[64h + 32s] holds, in its low nibble, weight 128h + 32s + l and, in its high one,
// weight 128h + 64 + 32s + l; their two high bits are bits 2s, 2s + 1 and 2s + 4, 2s + 5 of
// qh[32h + l]. Weight i has scale scales[i / 16], and w = d · scale · (q − 32).
//
// 256 invocations: 8 rows per workgroup, a team of 32 lanes per row walking its blocks. Lane
// i of a team reads the block's ql word i (the 32 lanes read the 128 ql bytes side by side,
// one memory transaction), the qh word beside its bytes, its two scales and d: 8 weights a
// lane per block. gemv.wgsl's lanes each take a 16-weight chunk instead, so a row's 32 lanes
// gather from 2 blocks at once and every load touches several cache lines. x is staged in
// workgroup memory in tiles of 2048; the team sums with a tree reduction.

const WG: u32 = 256u;
const ROWS_PER_WG: u32 = 8u;
const LANES: u32 = 32u;
const XTILE: u32 = 2048u;
const BLOCK_WEIGHTS: u32 = 256u;
const BLOCK_BYTES: u32 = 210u;

var<workgroup> xs: array<vec4<f32>, 512>;
var<workgroup> partial: array<f32, WG>;

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
    let row = first + lane / LANES;
    let valid = row < p.rows;
    let blocks = p.cols / BLOCK_WEIGHTS;
    let row_byte = row * blocks * BLOCK_BYTES;
    // Lane i's place in every block: half h, sub-block s, first byte l of its 4.
    let h = i / 16u;
    let s = (i / 8u) % 2u;
    let l = 4u * (i % 8u);
    let lo_at = 128u * h + 32u * s + l;
    let ql_off = 4u * i;
    let qh_off = 128u + 32u * h + l;
    let sc_lo_off = 192u + lo_at / 16u;
    let sc_hi_off = sc_lo_off + 4u;
    let shift = 2u * s;

    var acc = 0.0;
    for (var t0 = 0u; t0 < p.cols; t0 += XTILE) {
        let n = min(XTILE, p.cols - t0);
        workgroupBarrier();
        for (var k = lane; k < n / 4u; k += WG) {
            xs[k] = x4(p.x_offset + t0 + 4u * k);
        }
        workgroupBarrier();
        if (valid) {
            let b0 = t0 / BLOCK_WEIGHTS;
            for (var bt = 0u; bt < n / BLOCK_WEIGHTS; bt++) {
                let b = row_byte + (b0 + bt) * BLOCK_BYTES;
                let ql = load_u32(b + ql_off);
                let qh = load_u32(b + qh_off);
                let lo = (ql & 0x0F0F0F0Fu) | (((qh >> shift) & 0x03030303u) << 4u);
                let hi = ((ql >> 4u) & 0x0F0F0F0Fu) | (((qh >> (shift + 4u)) & 0x03030303u) << 4u);
                let sc_lo = f32(bitcast<i32>(load_u8(b + sc_lo_off) << 24u) >> 24u);
                let sc_hi = f32(bitcast<i32>(load_u8(b + sc_hi_off) << 24u) >> 24u);
                let xi = (bt * BLOCK_WEIGHTS + lo_at) / 4u;
                let dot_lo = dot(bytes4(lo) - vec4<f32>(32.0), xs[xi]);
                let dot_hi = dot(bytes4(hi) - vec4<f32>(32.0), xs[xi + 16u]);
                acc += load_f16(b + 208u) * (sc_lo * dot_lo + sc_hi * dot_hi);
            }
        }
    }

    partial[lane] = acc;
    workgroupBarrier();
    for (var r = LANES / 2u; r > 0u; r >>= 1u) {
        if (i < r) {
            partial[lane] += partial[lane + r];
        }
        workgroupBarrier();
    }
    if (valid && i == 0u) {
        store_y(row, partial[lane]);
    }
}
