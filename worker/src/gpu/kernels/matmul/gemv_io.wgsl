// What every GEMV layout (gemv.wgsl, gemv_rows.wgsl) binds: the weight part, x, the outputs and
// the parameters of one dispatch.
//
// Stacked matrices (q, k and v, or gate and up, as one tensor: engine/weights.rs) write each
// member's rows to its own buffer: rows below split1 go to y, those below split2 to y1, the
// rest to y2. A single matrix has split1 = split2 = its rows (y1 and y2 are spare buffers).

struct Params {
    rows: u32,        // rows in this part
    cols: u32,
    row_offset: u32,  // output index of the part's first row
    accumulate: u32,  // 1: add to y (fused residual), 0: overwrite
    x_offset: u32,
    y_offset: u32,   // where row 0 goes in y
    split1: u32,     // the tensor's first row written to y1
    split2: u32,     // the tensor's first row written to y2
    eps: f32,        // the fused RMSNorm's epsilon (gemv_input_rms_norm.wgsl)
    // RoPE applied as rows are stored (gemv_store_rope.wgsl):
    head_dim: u32,
    rope_dims: u32,
    rope_base: f32,
    has_freqs: u32,
    capacity: u32,   // KV cache rows
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;
@group(0) @binding(5) var<storage, read_write> y1: array<f32>;
@group(0) @binding(6) var<storage, read_write> y2: array<f32>;

// 4 floats of x from element i.
fn x4(i: u32) -> vec4<f32> {
    return vec4<f32>(x[i], x[i + 1u], x[i + 2u], x[i + 3u]);
}

// Stores row `row` of the part (rows past its end are skipped), adding to y when accumulating.
fn store_y(row: u32, v: f32) {
    if (row >= p.rows) {
        return;
    }
    let r = p.row_offset + row;
    let add = p.accumulate != 0u;
    if (r < p.split1) {
        let i = p.y_offset + r;
        y[i] = select(v, y[i] + v, add);
    } else if (r < p.split2) {
        let i = r - p.split1;
        y1[i] = select(v, y1[i] + v, add);
    } else {
        let i = r - p.split2;
        y2[i] = select(v, y2[i] + v, add);
    }
}

// The rows of quads first, first + 4, first + 8 and first + 12 of the part (row_quads.wgsl's
// quads4), 4 to a vec4 (rows past its end are skipped).
fn store_quads4(first: u32, a: vec4<f32>, b: vec4<f32>, c: vec4<f32>, d: vec4<f32>) {
    let row = 4u * first;
    for (var r = 0u; r < 4u; r++) {
        store_y(row + r, a[r]);
        store_y(row + 16u + r, b[r]);
        store_y(row + 32u + r, c[r]);
        store_y(row + 48u + r, d[r]);
    }
}
