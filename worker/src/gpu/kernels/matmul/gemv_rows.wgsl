// GEMV for decode on software adapters (SwiftShader, lavapipe): the same product as gemv.wgsl,
// but each invocation computes one whole row, so there is no workgroup memory and no barrier.
// CPU drivers emulate a barrier by switching between the workgroup's invocations, which costs
// far more there than the reads it saves; on a CPU the row's x is in cache anyway.
// Concatenated after common.wgsl, one dequant_*.wgsl snippet and gemv_io.wgsl.

const WG: u32 = 64u;

@compute @workgroup_size(WG)
fn main(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(local_invocation_index) lane: u32,
) {
    let row = (wg.x + wg.y * groups.x) * WG + lane;
    if (row >= p.rows) {
        return;
    }
    let chunks_per_block = BLOCK_WEIGHTS / 16u;
    let blocks = p.cols / BLOCK_WEIGHTS;
    let row_byte = row * blocks * BLOCK_BYTES;

    var acc = vec4<f32>(0.0);
    for (var b = 0u; b < blocks; b++) {
        let block = row_byte + b * BLOCK_BYTES;
        for (var c = 0u; c < chunks_per_block; c++) {
            let w = dequant16(block, c);
            let xi = p.x_offset + b * BLOCK_WEIGHTS + 16u * c;
            acc += w[0] * x4(xi) + w[1] * x4(xi + 4u) + w[2] * x4(xi + 8u) + w[3] * x4(xi + 12u);
        }
    }
    store_y(row, acc.x + acc.y + acc.z + acc.w);
}
