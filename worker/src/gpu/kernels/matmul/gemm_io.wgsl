// What every GEMM layout (gemm.wgsl, gemm_rows.wgsl) binds: the weight part, X, the outputs and
// the parameters of one dispatch. Stacked matrices write each member's rows to its own buffer,
// as gemv_io.wgsl says: Y holds rows below split1 (split1 a token), Y1 those below split2
// (split2 − split1 a token), Y2 the rest (y_stride − split2 a token).

struct Params {
    rows: u32,       // rows in this part
    cols: u32,
    row_offset: u32, // output column of the part's first row
    accumulate: u32,
    n_tokens: u32,
    y_stride: u32,   // the whole tensor's rows
    row_tiles: u32,
    split1: u32,     // the tensor's first row written to Y1
    split2: u32,     // the tensor's first row written to Y2
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(1) var<storage, read> X: array<f32>;
@group(0) @binding(2) var<storage, read_write> Y: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;
@group(0) @binding(5) var<storage, read_write> Y1: array<f32>;
@group(0) @binding(6) var<storage, read_write> Y2: array<f32>;

// 4 floats of X from element i.
fn x4(i: u32) -> vec4<f32> {
    return vec4<f32>(X[i], X[i + 1u], X[i + 2u], X[i + 3u]);
}

// Stores row `row` of the part for token `t` (rows and tokens past the end are skipped),
// adding to Y when accumulating.
fn store_y(t: u32, row: u32, v: f32) {
    if (row >= p.rows || t >= p.n_tokens) {
        return;
    }
    let r = p.row_offset + row;
    let add = p.accumulate != 0u;
    if (r < p.split1) {
        let i = t * p.split1 + r;
        Y[i] = select(v, Y[i] + v, add);
    } else if (r < p.split2) {
        let i = t * (p.split2 - p.split1) + r - p.split1;
        Y1[i] = select(v, Y1[i] + v, add);
    } else {
        let i = t * (p.y_stride - p.split2) + r - p.split2;
        Y2[i] = select(v, Y2[i] + v, add);
    }
}
