// One row group's products with one token's x, over weights in texel runs: what every
// invocation of gemv_texels.wgsl and gemm_texels.wgsl computes. Concatenated with the
// kernel's io file (which defines `p` with `cols` and `line_runs`, and `x4`),
// byte_lanes.wgsl, one texel-type snippet and texels.wgsl.
//
// A CPU driver runs four (or eight) invocations in the lanes of one SIMD register. What costs
// there is not what costs on a GPU:
// - every storage read whose index is not a constant is a gather, one scalar load per lane
//   behind its own branch, even when every lane reads the same address (x here); a texel
//   fetch loads a lane's 16 bytes at once, hence the weights in textures;
// - a shift (every WGSL `<<`/`>>`) is split into one scalar shift per lane: bytes are taken
//   apart with masks and an i32 → f32 conversion instead (byte_lanes.wgsl);
// - more live values than registers spill, which is cheap next to a gather, but a fully
//   unrolled loop with constant x indices was 3× slower (code size).
// So an invocation computes one row group, 16 rows (every x read serves 16 rows): per run, 16
// level texels per 16 columns and 4 scale texels, the level offset taken off once per run.
// On SwiftShader, Q6_K: 3.1–3.4 weights/ns natively and 2.2–2.3 in Chromium, against 1.5
// and 1.2 from a storage buffer.

// 16 floats of x from element i, 4 to a vec4; also 16 rows' results, 4 to a vec4.
struct Vec16 {
    a: vec4<f32>,
    b: vec4<f32>,
    c: vec4<f32>,
    d: vec4<f32>,
}

fn x16(i: u32) -> Vec16 {
    return Vec16(x4(i), x4(i + 4u), x4(i + 8u), x4(i + 12u));
}

// Four rows' sums over one level texel each (texels first..first+3) against x scaled to the
// byte lanes.
fn quad_dots(at: vec2<u32>, first: u32, xs: Vec16) -> vec4<f32> {
    let q = quad_words(at, first);
    return row_dots(q.a, xs.a) + row_dots(q.b, xs.b) + row_dots(q.c, xs.c) + row_dots(q.d, xs.d);
}

// Rows 16·group .. 16·group + 15 of the part against x from element xb.
fn row_group(group: u32, xb: u32) -> Vec16 {
    let runs = p.cols / RUN_WEIGHTS;
    var at = run_at(group * runs, p.line_runs);
    var acc = Vec16(vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0));
    var k = xb;
    for (var r = 0u; r < runs; r++) {
        var sa = vec4<f32>(0.0);
        var sb = vec4<f32>(0.0);
        var sc = vec4<f32>(0.0);
        var sd = vec4<f32>(0.0);
        var xsum = vec4<f32>(0.0);
        for (var h = 0u; h < RUN_WEIGHTS; h += 16u) {
            let xr = x16(k + h);
            xsum += xr.a + xr.b + xr.c + xr.d;
            let xs = Vec16(xr.a * LANE_SCALE, xr.b * LANE_SCALE, xr.c * LANE_SCALE, xr.d * LANE_SCALE);
            sa += quad_dots(at, h, xs);
            sb += quad_dots(at, h + 4u, xs);
            sc += quad_dots(at, h + 8u, xs);
            sd += quad_dots(at, h + 12u, xs);
        }
        let offset = LEVEL_OFFSET * dot(xsum, OFFSET_LANES);
        acc.a += run_scales(at, 0u) * (sa - offset);
        acc.b += run_scales(at, 1u) * (sb - offset);
        acc.c += run_scales(at, 2u) * (sc - offset);
        acc.d += run_scales(at, 3u) * (sd - offset);
        at = next_run(at, p.line_runs);
        k += RUN_WEIGHTS;
    }
    return acc;
}
