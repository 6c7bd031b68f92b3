// GEMV for decode: y[row_offset + r] (+)= Σ_k W[r, k] · x[x_offset + k] for the rows of one
// weight part. Concatenated after common.wgsl, one dequant_*.wgsl snippet and gemv_io.wgsl.
//
// 256 invocations: 8 rows per workgroup, 32 lanes per row. x is staged in workgroup memory in
// tiles of 2048 (a multiple of every block size); each lane takes every 32nd 16-weight chunk of
// its row, accumulates in f32, and the row's lanes sum with a tree reduction.

const WG: u32 = 256u;
const ROWS_PER_WG: u32 = 8u;
const LANES: u32 = 32u;
const XTILE: u32 = 2048u;

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
    let sub = lane % LANES;
    let row = first + lane / LANES;
    let valid = row < p.rows;
    let chunks_per_block = BLOCK_WEIGHTS / 16u;
    let row_byte = row * (p.cols / BLOCK_WEIGHTS) * BLOCK_BYTES;

    var acc = 0.0;
    for (var t0 = 0u; t0 < p.cols; t0 += XTILE) {
        let n = min(XTILE, p.cols - t0);
        workgroupBarrier();
        for (var i = lane; i < n / 4u; i += WG) {
            let xi = p.x_offset + t0 + 4u * i;
            xs[i] = vec4<f32>(x[xi], x[xi + 1u], x[xi + 2u], x[xi + 3u]);
        }
        workgroupBarrier();
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

    partial[lane] = acc;
    workgroupBarrier();
    for (var s = LANES / 2u; s > 0u; s >>= 1u) {
        if (sub < s) {
            partial[lane] += partial[lane + s];
        }
        workgroupBarrier();
    }
    if (valid && sub == 0u) {
        let yi = p.y_offset + p.row_offset + row;
        var v = partial[lane];
        if (p.accumulate != 0u) {
            v += y[yi];
        }
        y[yi] = v;
    }
}
