// RMSNorm over rows: y[t][i] = x[t][i] / sqrt(mean_j(x[t][j]²) + eps) * w[i].
// One workgroup per row (token); the sum of squares is a tree reduction in workgroup memory.

struct Shape {
    dim: u32,
    eps: f32,
    _pad0: u32,
    _pad1: u32,
}

struct Step {
    n_tokens: u32,
    start_pos: u32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> w: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<uniform> shape: Shape;
@group(0) @binding(4) var<uniform> step: Step;

// Overridden per adapter: 256 for GPUs, 4 (one SIMD register) on software adapters.
override WG: u32 = 256u;

var<workgroup> partial: array<f32, WG>;

@compute @workgroup_size(WG)
fn main(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(local_invocation_index) lane: u32,
) {
    let row = wg.x + wg.y * groups.x;
    if (row >= step.n_tokens) {
        return;
    }
    let base = row * shape.dim;
    var sum = 0.0;
    for (var i = lane; i < shape.dim; i += WG) {
        let v = x[base + i];
        sum += v * v;
    }
    partial[lane] = sum;
    workgroupBarrier();
    for (var half = WG / 2u; half > 0u; half = half >> 1u) {
        if (lane < half) {
            partial[lane] += partial[lane + half];
        }
        workgroupBarrier();
    }
    let scale = inverseSqrt(partial[0] / f32(shape.dim) + shape.eps);
    for (var i = lane; i < shape.dim; i += WG) {
        y[base + i] = x[base + i] * scale * w[i];
    }
}
