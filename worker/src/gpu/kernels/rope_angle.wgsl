// RoPE's rotation of pair i (dimensions 2i, 2i+1 of a head) at position `pos`, for rope.wgsl and
// the GPU GEMV that applies RoPE as it stores q and k (matmul/gemv_store_rope.wgsl). Each
// declares `freqs` (Llama 3.x frequency factors).
//
// theta_i = pos · base^(-2i/rope_dims) / f_i, computed in f32 as llama.cpp does; f_i comes from
// `freqs` when has_freqs, else 1.

const INV_TWO_PI: f32 = 0.15915494309189535;
// 2π split in two (Cody-Waite): k · TWO_PI_HI is exact in f32 for k < 2^15, so angles up to
// ~200k radians reduce to [-π, π] with no more error than theta's own rounding. WGSL only
// promises sin/cos accuracy inside [-π, π].
const TWO_PI_HI: f32 = 6.28125;
const TWO_PI_LO: f32 = 0.0019353071795864769;

// (cos, sin) of pair i's angle.
fn rope_cos_sin(pos: u32, i: u32, rope_dims: u32, base: f32, has_freqs: bool) -> vec2<f32> {
    var theta = f32(pos) * pow(base, -2.0 * f32(i) / f32(rope_dims));
    if (has_freqs) {
        theta = theta / freqs[i];
    }
    let turns = round(theta * INV_TWO_PI);
    let r = (theta - turns * TWO_PI_HI) - turns * TWO_PI_LO;
    return vec2<f32>(cos(r), sin(r));
}
