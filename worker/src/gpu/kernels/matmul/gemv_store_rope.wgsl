// A decode step's stacked q/k/v GEMV (GPUs) stores its rows as ../rope.wgsl would leave them:
// q and k rotated, k and v written to the KV cache at the step's position (y1 and y2 are the
// layer's K and V caches, [capacity][kv rows]). The RoPE dispatch is fused away (see
// gemv_input_rms_norm.wgsl). A pair's two rows (2i, 2i + 1 of a head) are two adjacent teams
// of the workgroup, which swap their sums through `row_sums`; a weight part starts at an even
// row (Gemv checks).
//
// Concatenated after ../rope_angle.wgsl.

struct Step {
    n_tokens: u32,
    start_pos: u32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(8) var<uniform> step: Step;
@group(0) @binding(9) var<storage, read> freqs: array<f32>;

var<workgroup> row_sums: array<f32, ROWS_PER_WG>;

// Row r of a q or k head with sum `own`, its pair's other row summing to `other`, rotated.
fn rotated(r: u32, own: f32, other: f32) -> f32 {
    let d = r % p.head_dim;
    if (d >= p.rope_dims) {
        return own;
    }
    let cs = rope_cos_sin(step.start_pos, d / 2u, p.rope_dims, p.rope_base, p.has_freqs != 0u);
    if (d % 2u == 0u) {
        return own * cs.x - other * cs.y;
    }
    return other * cs.y + own * cs.x;
}

// Every lane of the workgroup calls it.
fn store_row(lane: u32, row: u32, total: f32) {
    let team = lane / LANES;
    if (lane % LANES == 0u) {
        row_sums[team] = total;
    }
    workgroupBarrier();
    if (lane % LANES != 0u || row >= p.rows) {
        return;
    }
    let other = row_sums[team ^ 1u];
    let r = p.row_offset + row;
    let kv_rows = p.split2 - p.split1;
    let pos = step.start_pos;
    if (r < p.split1) {
        y[p.y_offset + r] = rotated(r, total, other);
    } else if (pos < p.capacity) {
        if (r < p.split2) {
            y1[pos * kv_rows + r - p.split1] = rotated(r - p.split1, total, other);
        } else {
            y2[pos * kv_rows + r - p.split2] = total;
        }
    }
}
