// What every GEMV layout (gemv.wgsl, gemv_rows.wgsl) binds: the weight part, x, y and the
// parameters of one dispatch.

struct Params {
    rows: u32,        // rows in this part
    cols: u32,
    row_offset: u32,  // output index of the part's first row
    accumulate: u32,  // 1: add to y (fused residual), 0: overwrite
    x_offset: u32,
    y_offset: u32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;

// 4 floats of x from element i.
fn x4(i: u32) -> vec4<f32> {
    return vec4<f32>(x[i], x[i + 1u], x[i + 2u], x[i + 3u]);
}

// Stores row `row` of the part (rows past its end are skipped), adding to y when accumulating.
fn store_y(row: u32, v: f32) {
    if (row < p.rows) {
        let yi = p.y_offset + p.row_offset + row;
        if (p.accumulate != 0u) {
            y[yi] += v;
        } else {
            y[yi] = v;
        }
    }
}

// Rows first..first+15 of the part, 4 to a vec4 (rows past its end are skipped).
fn store_rows16(first: u32, a: vec4<f32>, b: vec4<f32>, c: vec4<f32>, d: vec4<f32>) {
    for (var r = 0u; r < 4u; r++) {
        store_y(first + r, a[r]);
        store_y(first + 4u + r, b[r]);
        store_y(first + 8u + r, c[r]);
        store_y(first + 12u + r, d[r]);
    }
}
