// What both top-K kernels share (top_k.wgsl on GPUs, top_k_scan.wgsl on software adapters;
// concatenated before either): the bindings, the rank order and the logsumexp fold.
//
// partials (u32 words), per chunk p at p * (2k + 2): max, sumexp (f32 bits), ids[k], logits[k]
// out (u32 words): logsumexp (f32 bits), k, 0, 0, ids[k], logits[k] (f32 bits)

struct Shape {
    vocab: u32,
    k: u32,
    n_partials: u32,
    logits_offset: u32,
}

@group(0) @binding(0) var<storage, read> logits: array<f32>;
@group(0) @binding(1) var<storage, read_write> partials: array<u32>;
@group(0) @binding(2) var<uniform> shape: Shape;
@group(0) @binding(3) var<storage, read_write> out: array<u32>;

// Padding: ranks after every real entry, whatever its logit.
const NONE: u32 = 0xffffffffu;
// The lowest finite f32, exactly (a decimal literal may round past it, which Tint rejects).
const LOWEST: f32 = -0x1.fffffep+127f;

// Whether (va, ia) ranks above (vb, ib): larger logit first, ties to the lower id.
fn before(va: f32, ia: u32, vb: f32, ib: u32) -> bool {
    if (ia == NONE || ib == NONE) {
        return ia < ib;
    }
    if (va != vb) {
        return va > vb;
    }
    return ia < ib;
}

// (m, s) with s = sum exp(x - m), merged with (m2, s2).
fn combine(a: vec2<f32>, b: vec2<f32>) -> vec2<f32> {
    let m = max(a.x, b.x);
    return vec2<f32>(m, a.y * exp(a.x - m) + b.y * exp(b.x - m));
}
