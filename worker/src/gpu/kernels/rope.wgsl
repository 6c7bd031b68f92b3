// RoPE, GGUF llama layout: rotates adjacent pairs (2i, 2i+1) of the first rope_dims of every
// head, in place, in Q ([n][n_heads][head_dim]) and K ([n][n_kv_heads][head_dim]) of a batch
// of tokens at positions start_pos + t, and writes each token's rotated K and its V
// ([n][n_kv_heads][head_dim]) to the KV cache rows start_pos + t ([capacity][n_kv_heads]
// [head_dim]): the cache write costs no dispatch of its own. One invocation per pair of every
// head's head_dim. Concatenated after rope_angle.wgsl (the angles).

struct Shape {
    n_heads: u32,
    n_kv_heads: u32,
    head_dim: u32,
    rope_dims: u32,
    base: f32,
    has_freqs: u32,
    capacity: u32, // cache rows
    _pad0: u32,
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
@group(0) @binding(5) var<storage, read> v: array<f32>;
@group(0) @binding(6) var<storage, read_write> k_cache: array<f32>;
@group(0) @binding(7) var<storage, read_write> v_cache: array<f32>;

const WG: u32 = 256u;

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
    let pairs = shape.head_dim / 2u;
    let heads = shape.n_heads + shape.n_kv_heads;
    if (gid >= step.n_tokens * heads * pairs) {
        return;
    }
    let t = gid / (heads * pairs);
    let h = (gid / pairs) % heads;
    let i = gid % pairs;
    let kv = h >= shape.n_heads;
    if (!kv && 2u * i >= shape.rope_dims) {
        return;
    }
    // Element offset of the pair in Q, or in K and V.
    var at: u32;
    var y: vec2<f32>;
    if (kv) {
        at = (t * shape.n_kv_heads + (h - shape.n_heads)) * shape.head_dim + 2u * i;
        y = vec2<f32>(k[at], k[at + 1u]);
    } else {
        at = (t * shape.n_heads + h) * shape.head_dim + 2u * i;
        y = vec2<f32>(q[at], q[at + 1u]);
    }
    if (2u * i < shape.rope_dims) {
        let pos = step.start_pos + t;
        let cs = rope_cos_sin(pos, i, shape.rope_dims, shape.base, shape.has_freqs != 0u);
        y = rotate(y.x, y.y, cs.x, cs.y);
        if (kv) {
            k[at] = y.x;
            k[at + 1u] = y.y;
        } else {
            q[at] = y.x;
            q[at + 1u] = y.y;
        }
    }
    let row_len = shape.n_kv_heads * shape.head_dim;
    let cache_row = step.start_pos + t;
    if (kv && cache_row < shape.capacity) {
        let c = cache_row * row_len + (at - t * row_len);
        k_cache[c] = y.x;
        k_cache[c + 1u] = y.y;
        v_cache[c] = v[at];
        v_cache[c + 1u] = v[at + 1u];
    }
}
