// GEMM for prefill: Y[t, row_offset + r] (+)= Σ_k X[t, k] · W[r, k] for the rows of one weight
// part (X is n_tokens × cols, Y is n_tokens × y_stride, both row-major). Concatenated after
// common.wgsl, one dequant_*.wgsl snippet and gemm_io.wgsl.
//
// A workgroup computes a tile of 8 tokens × 64 rows, stepping through k 32 at a time: each
// step dequantizes 64 rows × 32 weights into workgroup memory once and reuses them for all 8
// tokens; each invocation accumulates 2 outputs in f32.

const WG: u32 = 256u;
const TT: u32 = 8u;
const TR: u32 = 64u;
const KS: u32 = 32u;
const WS_STRIDE: u32 = 33u; // KS + 1: rows land in different banks

var<workgroup> ws: array<f32, 2112>; // TR × WS_STRIDE
var<workgroup> xt: array<f32, 256>;  // TT × KS

@compute @workgroup_size(WG)
fn main(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(local_invocation_index) lane: u32,
) {
    let group = wg.x + wg.y * groups.x;
    let token_tiles = (p.n_tokens + TT - 1u) / TT;
    if (group >= p.row_tiles * token_tiles) {
        return;
    }
    let r0 = (group % p.row_tiles) * TR;
    let t0 = (group / p.row_tiles) * TT;
    let chunks_per_block = BLOCK_WEIGHTS / 16u;
    let row_bytes = (p.cols / BLOCK_WEIGHTS) * BLOCK_BYTES;
    let row_chunks = p.cols / 16u;

    let lr = lane % TR;
    let tk = (lane / TR) * 2u;
    var acc0 = 0.0;
    var acc1 = 0.0;
    for (var k0 = 0u; k0 < p.cols; k0 += KS) {
        workgroupBarrier();
        let xt_tok = t0 + lane / KS;
        let xt_k = k0 + lane % KS;
        var xv = 0.0;
        if (xt_tok < p.n_tokens && xt_k < p.cols) {
            xv = X[xt_tok * p.cols + xt_k];
        }
        xt[lane] = xv;
        if (lane < TR * 2u) {
            let r = r0 + lane / 2u;
            let chunk = k0 / 16u + lane % 2u;
            var w: array<vec4<f32>, 4>;
            if (r < p.rows && chunk < row_chunks) {
                w = dequant16(r * row_bytes + (chunk / chunks_per_block) * BLOCK_BYTES, chunk % chunks_per_block);
            }
            let base = (lane / 2u) * WS_STRIDE + (lane % 2u) * 16u;
            for (var j = 0u; j < 4u; j++) {
                ws[base + 4u * j] = w[j].x;
                ws[base + 4u * j + 1u] = w[j].y;
                ws[base + 4u * j + 2u] = w[j].z;
                ws[base + 4u * j + 3u] = w[j].w;
            }
        }
        workgroupBarrier();
        for (var kk = 0u; kk < KS; kk++) {
            let wv = ws[lr * WS_STRIDE + kk];
            acc0 += xt[tk * KS + kk] * wv;
            acc1 += xt[(tk + 1u) * KS + kk] * wv;
        }
    }

    let r = r0 + lr;
    store_y(t0 + tk, r, acc0);
    store_y(t0 + tk + 1u, r, acc1);
}
