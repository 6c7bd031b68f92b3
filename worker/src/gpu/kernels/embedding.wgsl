// Embedding lookup: out[i, :] = dequantized row ids[i] of the token table, for the rows held by
// one weight part (tokens whose row lies in another part are left to that part's dispatch).
// Concatenated after matmul/common.wgsl (or, for row quads, matmul/row_quads.wgsl and
// matmul/row_quad_bytes.wgsl), matmul/byte_values.wgsl and one matmul/dequant_*.wgsl snippet.

struct Params {
    n_tokens: u32,
    cols: u32,
    first_row: u32, // table row of the part's first row
    rows: u32,      // rows in this part
}

@group(0) @binding(1) var<storage, read> ids: array<u32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<uniform> p: Params;

const WG: u32 = 64u;

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
    start_weights(p.cols / BLOCK_WEIGHTS * BLOCK_BYTES / 4u);
    let id = ids[token];
    if (id < p.first_row || id - p.first_row >= p.rows) {
        return;
    }
    let chunks_per_block = BLOCK_WEIGHTS / 16u;
    let row_byte = (id - p.first_row) * (p.cols / BLOCK_WEIGHTS) * BLOCK_BYTES;
    for (var k = lane; k < p.cols / 16u; k += WG) {
        let w = dequant16(row_byte + (k / chunks_per_block) * BLOCK_BYTES, k % chunks_per_block);
        let o = token * p.cols + 16u * k;
        for (var j = 0u; j < 4u; j++) {
            out[o + 4u * j] = w[j].x;
            out[o + 4u * j + 1u] = w[j].y;
            out[o + 4u * j + 2u] = w[j].z;
            out[o + 4u * j + 3u] = w[j].w;
        }
    }
}
