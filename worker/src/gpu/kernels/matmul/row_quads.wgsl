// The weight part as row quads (gpu/weights.rs): an `rgba32float` texture whose texels each
// hold one word of 4 rows (a quad; one row per channel, the bits only). A texture line holds G
// quads side by side, word by word: word `at` of quad q is texel (at·G + q % G, q / G), where
// G (32, or fewer where the texture's width, the part's size or a stacked member's rows call
// for it) is the line's width over a row's words. Concatenated before the typed row kernels
// (and, with row_quad_bytes.wgsl, the embedding lookup) of software adapters.
//
// A CPU driver runs 4 invocations in the lanes of one SIMD register. The typed kernels give the
// 4 lanes 4 consecutive quads, so a fetch reads 64 contiguous bytes, and a workgroup's 32 quads
// (4 lanes × 8) are one line with G = 32, read from start to end as one stream that the
// hardware prefetcher follows. With one quad a line and each lane's 8 quads 8 lines from the
// next lane's, SwiftShader on an AMD EPYC spent about a quarter of a SmolLM2 decode step
// waiting on the texel loads; a 3072×576 Q8_0 GEMV took 1.5–1.7 ms so, 1.1–1.2 with G = 4 and
// 0.9–1.0 with G = 32 (the fastest of 8 in each of two runs).
//
// Texels are sampled (nearest, at the texel's centre) rather than loaded: in Chromium every
// `textureLoad` is wrapped in a levels and a size query and a clamp, which on SwiftShader cost
// as much as the fetch; a sample needs none. Either way a fetch gives each lane 16 bytes at
// once, where a storage read with a non-constant index is a gather of one scalar load per lane,
// each behind its own branch: per word, a fetch costs SwiftShader less than half a gather.

@group(0) @binding(0) var W: texture_2d<f32>;
@group(0) @binding(4) var W_sampler: sampler;

// Quads a line holds (G), 1 / the texture's size, and the step in x from a word to the next of
// the same quad (G texels): set by start_weights.
var<private> line_quads: u32;
var<private> texel_step: vec2<f32>;
var<private> word_step: f32;

// Call first in a kernel reading the part, with the words a row takes.
fn start_weights(row_words: u32) {
    let size = textureDimensions(W);
    line_quads = max(size.x / row_words, 1u);
    texel_step = 1.0 / vec2<f32>(size);
    word_step = f32(line_quads) * texel_step.x;
}

// Where word 0 of quad `quad` is: its texel's centre in texture coordinates.
fn quad_at(quad: u32) -> vec2<f32> {
    let line = quad / line_quads;
    let g = quad - line * line_quads;
    return (vec2<f32>(f32(g), f32(line)) + 0.5) * texel_step;
}

// Word `at` of the 4 rows of the quad whose word 0 is at `quad` (quad_at), one row per
// component.
fn quad_words(quad: vec2<f32>, at: u32) -> vec4<u32> {
    let centre = vec2<f32>(quad.x + f32(at) * word_step, quad.y);
    return bitcast<vec4<u32>>(textureSampleLevel(W, W_sampler, centre, 0.0));
}

// Word `at` of the 4 rows of quad `quad`, one row per component.
fn words(quad: u32, at: u32) -> vec4<u32> {
    return quad_words(quad_at(quad), at);
}

// Four quads of an invocation (the typed kernels take 16 or 32 rows an invocation: every x
// read, a gather on a CPU driver, then serves them all), each as quad_at gives it.
struct Quads4 {
    a: vec2<f32>,
    b: vec2<f32>,
    c: vec2<f32>,
    d: vec2<f32>,
}

// Quads first, first + 4, first + 8 and first + 12 of a part of `rows` rows: the lanes of a
// SIMD register, given consecutive `first`s, read neighbouring texels. Quads past the end read
// the last quad again (and are not stored).
fn quads4(first: u32, rows: u32) -> Quads4 {
    let last = (rows - 1u) / 4u;
    return Quads4(
        quad_at(min(first, last)),
        quad_at(min(first + 4u, last)),
        quad_at(min(first + 8u, last)),
        quad_at(min(first + 12u, last)),
    );
}
