// The GEMV's input is RMSNorm(x) ∘ norm, as ../rms_norm.wgsl computes it: x the residual stream
// (p.cols floats from p.x_offset), `norm` the norm's weights. The norm's own dispatch is fused
// away: on a GPU a dispatch has a fixed cost of several µs, about what reading a small GEMV's
// weights takes. Every workgroup sums x's squares itself, reading p.cols floats from cache
// against the 8 rows of p.cols weights it reads from memory.

@group(0) @binding(7) var<storage, read> norm: array<f32>;

var<private> input_scale: f32;

// Every lane of the workgroup calls it, in uniform control flow.
fn start_input(lane: u32) {
    var sum = 0.0;
    for (var i = lane; i < p.cols; i += WG) {
        let v = x[p.x_offset + i];
        sum += v * v;
    }
    partial[lane] = sum;
    workgroupBarrier();
    for (var r = WG / 2u; r > 0u; r >>= 1u) {
        if (lane < r) {
            partial[lane] += partial[lane + r];
        }
        workgroupBarrier();
    }
    input_scale = inverseSqrt(partial[0] / f32(p.cols) + p.eps);
}

fn input4(i: u32) -> vec4<f32> {
    let j = i - p.x_offset;
    return x4(i) * input_scale * vec4<f32>(norm[j], norm[j + 1u], norm[j + 2u], norm[j + 3u]);
}
