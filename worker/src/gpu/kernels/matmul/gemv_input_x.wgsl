// The GEMV's input is x itself (gemv_team.wgsl's `input4`).

fn start_input(lane: u32) {}

fn input4(i: u32) -> vec4<f32> {
    return x4(i);
}
