// Weights in texel runs (gpu/weight_encoding.rs): one `rgba32uint` texture per weight part,
// whose lines hold `line_runs` runs each. Row group g's runs are runs g·R .. g·R + R of the
// part (R = cols / RUN_WEIGHTS), in column order; a run is RUN_WEIGHTS level texels (for each
// 16-column half of the run, rows 0..15 of the group) and then 4 scale texels (the f32 scales
// of rows 4k..4k+3 in texel k). Concatenated with one texel-type snippet
// (texels_q6_k.wgsl, texels_q8_0.wgsl), which sets RUN_WEIGHTS.
//
// Why textures: on a CPU driver a storage-buffer read with a non-constant index is a gather
// (a scalar load per lane, each behind its own branch), while a texel fetch loads each lane's
// 16 bytes at once (weight_encoding.rs's header has the numbers).

@group(0) @binding(0) var W: texture_2d<u32>;

const RUN_TEXELS: u32 = RUN_WEIGHTS + 4u;

// The first texel of run `run`: x in its line, and the line.
fn run_at(run: u32, line_runs: u32) -> vec2<u32> {
    return vec2<u32>((run % line_runs) * RUN_TEXELS, run / line_runs);
}

// The run after the one at `at` (no division: the cursor wraps at the line's end).
fn next_run(at: vec2<u32>, line_runs: u32) -> vec2<u32> {
    let x = at.x + RUN_TEXELS;
    return select(vec2<u32>(x, at.y), vec2<u32>(0u, at.y + 1u), x == line_runs * RUN_TEXELS);
}

// Texel `i` of the run at `at`.
fn run_texel(at: vec2<u32>, i: u32) -> vec4<u32> {
    return textureLoad(W, vec2<u32>(at.x + i, at.y), 0);
}

// The scales of rows 4k..4k+3 of the run's group.
fn run_scales(at: vec2<u32>, k: u32) -> vec4<f32> {
    return bitcast<vec4<f32>>(run_texel(at, RUN_WEIGHTS + k));
}

// Four rows' level texels (texels first..first+3 of the run), word by word: `a` holds word 0
// of each row, `b` word 1, and so on (byte_lanes.wgsl takes words apart).
struct QuadWords {
    a: vec4<u32>,
    b: vec4<u32>,
    c: vec4<u32>,
    d: vec4<u32>,
}

fn quad_words(at: vec2<u32>, first: u32) -> QuadWords {
    let t0 = run_texel(at, first);
    let t1 = run_texel(at, first + 1u);
    let t2 = run_texel(at, first + 2u);
    let t3 = run_texel(at, first + 3u);
    return QuadWords(
        vec4<u32>(t0.x, t1.x, t2.x, t3.x),
        vec4<u32>(t0.y, t1.y, t2.y, t3.y),
        vec4<u32>(t0.z, t1.z, t2.z, t3.z),
        vec4<u32>(t0.w, t1.w, t2.w, t3.w),
    );
}
