// What every GEMM layout (gemm.wgsl, gemm_rows.wgsl) binds: the weight part, X, Y and the
// parameters of one dispatch.

struct Params {
    rows: u32,       // rows in this part
    cols: u32,
    row_offset: u32, // output column of the part's first row
    accumulate: u32,
    n_tokens: u32,
    y_stride: u32,   // floats per Y row (the whole tensor's rows)
    row_tiles: u32,
    _pad: u32,
}

@group(0) @binding(1) var<storage, read> X: array<f32>;
@group(0) @binding(2) var<storage, read_write> Y: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;

// 4 floats of X from element i.
fn x4(i: u32) -> vec4<f32> {
    return vec4<f32>(X[i], X[i + 1u], X[i + 2u], X[i + 3u]);
}

// Stores row `row` of the part for token `t` (rows and tokens past the end are skipped),
// adding to Y when accumulating.
fn store_y(t: u32, row: u32, v: f32) {
    if (row < p.rows && t < p.n_tokens) {
        let i = t * p.y_stride + p.row_offset + row;
        if (p.accumulate != 0u) {
            Y[i] += v;
        } else {
            Y[i] = v;
        }
    }
}
