// GEMV for decode on software adapters, Q6_K weights whose rows hold an even number of blocks.
// Concatenated after gemv_io.wgsl, byte_lanes.wgsl and rows_q6_k.wgsl (the arithmetic).

const WG: u32 = 8u;

fn x4(i: u32) -> vec4<f32> {
    return vec4<f32>(x[i], x[i + 1u], x[i + 2u], x[i + 3u]);
}

@compute @workgroup_size(WG)
fn main(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(local_invocation_index) lane: u32,
) {
    let first = ((wg.x + wg.y * groups.x) * WG + lane) * ROWS;
    if (first >= p.rows) {
        return;
    }
    let row_words = p.cols / 512u * 105u;
    // Rows past the end read the last row again and are not stored.
    let rows = min(vec4<u32>(first) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(p.rows - 1u)) * row_words;
    let acc = q6_k_rows4(rows, row_words, p.x_offset);
    for (var r = 0u; r < ROWS; r++) {
        store_y(first + r, acc[r]);
    }
}
