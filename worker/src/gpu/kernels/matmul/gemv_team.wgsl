// What the GPU GEMVs (gemv.wgsl, gemv_q6_k_lanes.wgsl) share: 256 invocations, 8 rows per
// workgroup, a team of 32 lanes per row; the input staged in workgroup memory in tiles of XTILE
// (a multiple of every block size). Concatenated after gemv_io.wgsl, and followed by one
// gemv_team_sum_*.wgsl snippet (how a team adds its lanes' sums) and one gemv_input_*.wgsl
// snippet (what the input is).

const WG: u32 = 256u;
const ROWS_PER_WG: u32 = 8u;
const LANES: u32 = 32u;
const XTILE: u32 = 2048u;

var<workgroup> xs: array<vec4<f32>, 512>;
var<workgroup> partial: array<f32, WG>;

// Stages input elements t0 .. t0 + n (n a multiple of 4, at most XTILE) into xs: x itself, or
// what a fused op makes of it (`input4`, from one gemv_input_*.wgsl snippet, whose
// `input_scale` then scales the row sums); every lane of the workgroup calls it.
fn stage_x(lane: u32, t0: u32, n: u32) {
    workgroupBarrier();
    for (var k = lane; k < n / 4u; k += WG) {
        xs[k] = input4(p.x_offset + t0 + 4u * k);
    }
    workgroupBarrier();
}

// The sum of `value` over each group of `width` lanes (a power of two dividing WG), by a tree
// reduction in workgroup memory; every lane of the workgroup calls it, and each gets its
// group's sum.
fn group_sum(lane: u32, value: f32, width: u32) -> f32 {
    let i = lane % width;
    partial[lane] = value;
    workgroupBarrier();
    for (var r = width / 2u; r > 0u; r >>= 1u) {
        if (i < r) {
            partial[lane] += partial[lane + r];
        }
        workgroupBarrier();
    }
    let sum = partial[lane - i];
    // `partial` is free again once every lane has read its group's sum.
    workgroupBarrier();
    return sum;
}
