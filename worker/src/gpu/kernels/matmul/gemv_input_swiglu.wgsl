// The GEMV's input is SwiGLU's silu(gate) · up, as ../swiglu.wgsl computes it: x is the gate,
// `up` beside it at the same offsets. The SwiGLU dispatch is fused away (see
// gemv_input_rms_norm.wgsl).

@group(0) @binding(7) var<storage, read> up: array<f32>;

fn input4(i: u32) -> vec4<f32> {
    let g = x4(i);
    // exp(-g) overflows to +inf for g < -88: g / inf is -0, the right limit.
    return g / (vec4<f32>(1.0) + exp(-g)) * vec4<f32>(up[i], up[i + 1u], up[i + 2u], up[i + 3u]);
}

fn input_scale(lane: u32) -> f32 {
    return 1.0;
}
