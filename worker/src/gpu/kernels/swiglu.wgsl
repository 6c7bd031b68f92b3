// SwiGLU, in place: gate[i] = silu(gate[i]) * up[i] over [n_tokens][ffn_dim].

struct Shape {
    ffn_dim: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

struct Step {
    n_tokens: u32,
    start_pos: u32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<storage, read_write> gate: array<f32>;
@group(0) @binding(1) var<storage, read> up: array<f32>;
@group(0) @binding(2) var<uniform> shape: Shape;
@group(0) @binding(3) var<uniform> step: Step;

const WG: u32 = 256u;

@compute @workgroup_size(WG)
fn main(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(local_invocation_index) lane: u32,
) {
    let i = (wg.x + wg.y * groups.x) * WG + lane;
    if (i >= step.n_tokens * shape.ffn_dim) {
        return;
    }
    let g = gate[i];
    // exp(-g) overflows to +inf for g < -88: g / inf is -0, the right limit.
    gate[i] = g / (1.0 + exp(-g)) * up[i];
}
