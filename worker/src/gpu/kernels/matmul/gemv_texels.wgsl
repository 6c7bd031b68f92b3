// GEMV for decode on software adapters (SwiftShader, lavapipe), with Q6_K or Q8_0 weights in
// texel runs: one row group (texel_rows.wgsl, whose header says what costs on a CPU driver)
// per invocation. Concatenated with gemv_io.wgsl, byte_lanes.wgsl, texel_rows.wgsl, one
// texel-type snippet and texels.wgsl.

const WG: u32 = 8u;

@compute @workgroup_size(WG)
fn main(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(local_invocation_index) lane: u32,
) {
    let group = (wg.x + wg.y * groups.x) * WG + lane;
    let first = group * 16u;
    if (first >= p.rows) {
        return;
    }
    let acc = row_group(group, p.x_offset);
    store_rows16(first, acc.a, acc.b, acc.c, acc.d);
}
