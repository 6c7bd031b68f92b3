// What the attention kernels (attention.wgsl, attention_lanes.wgsl, attention_heads.wgsl) bind
// and share: the layouts are in attention.wgsl's header. The KV cache (bindings 1 and 2) is
// bound by attention.wgsl as f32s it also writes, by the others as vec4s they only read
// (attention_vec4.wgsl).

struct Shape {
    n_heads: u32,
    n_kv_heads: u32,
    head_dim: u32,
    capacity: u32,
    scale: f32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

struct Step {
    n_tokens: u32,
    start_pos: u32,
    splits: u32,  // of the lanes kernel's positions (attention_lanes.wgsl)
    _pad1: u32,
}

@group(0) @binding(0) var<storage, read> q: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;
@group(0) @binding(4) var<uniform> shape: Shape;
@group(0) @binding(5) var<uniform> step: Step;

// The lowest finite f32, exactly (a decimal literal may round past it, which Tint rejects).
const LOWEST: f32 = -0x1.fffffep+127f;

// Where workgroup `idx` (one per token and query head) reads and writes: its query and output
// start at element `q_base`, it attends to positions 0..n_pos, and position p's K and V rows
// for its KV head start at p · row + kv_off.
struct Query {
    q_base: u32,
    n_pos: u32,
    row: u32,
    kv_off: u32,
}

fn query_at(idx: u32) -> Query {
    let t = idx / shape.n_heads;
    let h = idx % shape.n_heads;
    let kvh = h / (shape.n_heads / shape.n_kv_heads);
    let hd = shape.head_dim;
    return Query(idx * hd, step.start_pos + t + 1u, shape.n_kv_heads * hd, kvh * hd);
}
