// The weight part as row quads (gpu/weights.rs): an `rgba32float` texture whose line q holds
// rows 4q..4q+3 of the part, texel i holding word i of each (one row per channel, the bits
// only). Concatenated before the typed row kernels (and, with row_quad_bytes.wgsl, the
// embedding lookup) of software adapters.
//
// Texels are sampled (nearest, at the texel's centre) rather than loaded: in Chromium every
// `textureLoad` is wrapped in a levels and a size query and a clamp, which on SwiftShader cost
// as much as the fetch; a sample needs none. Either way a fetch gives each lane 16 bytes at
// once, where a storage read with a non-constant index is a gather of one scalar load per lane,
// each behind its own branch: per word, a fetch costs SwiftShader less than half a gather.

@group(0) @binding(0) var W: texture_2d<f32>;
@group(0) @binding(4) var W_sampler: sampler;

// 1 / the texture's size, for texel centres: set by start_weights.
var<private> texel_step: vec2<f32>;

// Call first in a kernel reading the part.
fn start_weights() {
    texel_step = 1.0 / vec2<f32>(textureDimensions(W));
}

// Word `at` of the 4 rows of quad `quad`, one row per component.
fn words(quad: u32, at: u32) -> vec4<u32> {
    let centre = (vec2<f32>(f32(at), f32(quad)) + 0.5) * texel_step;
    return bitcast<vec4<u32>>(textureSampleLevel(W, W_sampler, centre, 0.0));
}

// The quads of 16 rows (the typed kernels take 16 or 32 rows an invocation: every x read, a
// gather on a CPU driver, then serves them all): rows first + 4k .. first + 4k + 3 are quad `k`.
struct Rows16 {
    a: u32,
    b: u32,
    c: u32,
    d: u32,
}

// Rows first..first+15 (first a multiple of 4) of a part of `rows` rows. Quads past the end read
// the last quad again (and are not stored).
fn rows16(first: u32, rows: u32) -> Rows16 {
    let last = (rows - 1u) / 4u;
    let q = first / 4u;
    return Rows16(min(q, last), min(q + 1u, last), min(q + 2u, last), min(q + 3u, last));
}
