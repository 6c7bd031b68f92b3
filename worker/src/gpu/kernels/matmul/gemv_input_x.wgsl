// The GEMV's input is x itself (gemv_team.wgsl's `input4`).

fn input4(i: u32) -> vec4<f32> {
    return x4(i);
}

fn input_scale(lane: u32) -> f32 {
    return 1.0;
}
