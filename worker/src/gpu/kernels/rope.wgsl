// RoPE, GGUF llama layout: rotates adjacent pairs (2i, 2i+1) of the first rope_dims of every
// head, in place, in Q ([n][n_heads][head_dim]) and K ([n][n_kv_heads][head_dim]) of a batch
// of tokens at positions start_pos + t. One invocation per pair.
//
// theta_i = pos · base^(-2i/rope_dims) / f_i, computed in f32 as llama.cpp does; f_i comes from
// the `rope_freqs` buffer when has_freqs is 1 (Llama 3.x scaling), else 1.

struct Shape {
    n_heads: u32,
    n_kv_heads: u32,
    head_dim: u32,
    rope_dims: u32,
    base: f32,
    has_freqs: u32,
    _pad0: u32,
    _pad1: u32,
}

struct Step {
    n_tokens: u32,
    start_pos: u32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<storage, read_write> q: array<f32>;
@group(0) @binding(1) var<storage, read_write> k: array<f32>;
@group(0) @binding(2) var<storage, read> freqs: array<f32>;
@group(0) @binding(3) var<uniform> shape: Shape;
@group(0) @binding(4) var<uniform> step: Step;

const WG: u32 = 256u;
const INV_TWO_PI: f32 = 0.15915494309189535;
// 2π split in two (Cody-Waite): k · TWO_PI_HI is exact in f32 for k < 2^15, so angles up to
// ~200k radians reduce to [-π, π] with no more error than theta's own rounding. WGSL only
// promises sin/cos accuracy inside [-π, π].
const TWO_PI_HI: f32 = 6.28125;
const TWO_PI_LO: f32 = 0.0019353071795864769;

fn rotate(x0: f32, x1: f32, c: f32, s: f32) -> vec2<f32> {
    return vec2<f32>(x0 * c - x1 * s, x0 * s + x1 * c);
}

@compute @workgroup_size(WG)
fn main(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(local_invocation_index) lane: u32,
) {
    let gid = (wg.x + wg.y * groups.x) * WG + lane;
    let half = shape.rope_dims / 2u;
    let heads = shape.n_heads + shape.n_kv_heads;
    if (gid >= step.n_tokens * heads * half) {
        return;
    }
    let t = gid / (heads * half);
    let h = (gid / half) % heads;
    let i = gid % half;

    let pos = f32(step.start_pos + t);
    var theta = pos * pow(shape.base, -2.0 * f32(i) / f32(shape.rope_dims));
    if (shape.has_freqs != 0u) {
        theta = theta / freqs[i];
    }
    let turns = round(theta * INV_TWO_PI);
    let r = (theta - turns * TWO_PI_HI) - turns * TWO_PI_LO;
    let c = cos(r);
    let s = sin(r);

    if (h < shape.n_heads) {
        let at = (t * shape.n_heads + h) * shape.head_dim + 2u * i;
        let y = rotate(q[at], q[at + 1u], c, s);
        q[at] = y.x;
        q[at + 1u] = y.y;
    } else {
        let at = (t * shape.n_kv_heads + (h - shape.n_heads)) * shape.head_dim + 2u * i;
        let y = rotate(k[at], k[at + 1u], c, s);
        k[at] = y.x;
        k[at + 1u] = y.y;
    }
}
