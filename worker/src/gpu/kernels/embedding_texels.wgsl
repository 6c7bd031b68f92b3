// Embedding lookup from a table in texel runs (matmul/texels.wgsl; software adapters):
// out[i, :] = row ids[i] of the table, for the rows held by one weight part, like
// embedding.wgsl. Concatenated after one matmul/texels_<type>.wgsl snippet and
// matmul/texels.wgsl.

struct Params {
    n_tokens: u32,
    cols: u32,
    first_row: u32, // table row of the part's first row
    rows: u32,      // rows in this part
    line_runs: u32, // texel runs per texture line
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(1) var<storage, read> ids: array<u32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;

const WG: u32 = 16u;

@compute @workgroup_size(WG)
fn main(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(local_invocation_index) lane: u32,
) {
    let token = wg.x + wg.y * groups.x;
    if (token >= p.n_tokens) {
        return;
    }
    let id = ids[token];
    if (id < p.first_row || id - p.first_row >= p.rows) {
        return;
    }
    let row = id - p.first_row;
    let i = row % 16u;
    let group_run = row / 16u * (p.cols / RUN_WEIGHTS);
    let halves = RUN_WEIGHTS / 16u;
    // One 16-column chunk (one level texel) per lane and step.
    for (var k = lane; k < p.cols / 16u; k += WG) {
        let at = run_at(group_run + k / halves, p.line_runs);
        let t = run_texel(at, (k % halves) * 16u + i);
        let scale = run_scales(at, i / 4u)[i % 4u];
        let o = token * p.cols + 16u * k;
        let w = array<vec4<f32>, 4>(
            word_quants(t.x) * scale,
            word_quants(t.y) * scale,
            word_quants(t.z) * scale,
            word_quants(t.w) * scale,
        );
        for (var j = 0u; j < 4u; j++) {
            out[o + 4u * j] = w[j].x;
            out[o + 4u * j + 1u] = w[j].y;
            out[o + 4u * j + 2u] = w[j].z;
            out[o + 4u * j + 3u] = w[j].w;
        }
    }
}
