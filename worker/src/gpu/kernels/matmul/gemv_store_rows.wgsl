// The GPU GEMV's rows stored as they are (gemv_io.wgsl's `store_y`), by each team's first lane;
// every lane of the workgroup calls it.
fn store_row(lane: u32, row: u32, total: f32) {
    if (lane % LANES == 0u) {
        store_y(row, total);
    }
}
