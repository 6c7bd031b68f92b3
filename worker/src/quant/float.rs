//! Plain float types: F32, F16 (IEEE half) and BF16 (the top half of an f32).

use half::f16;

pub fn f16_to_f32(bits: u16) -> f32 {
    f16::from_bits(bits).to_f32()
}

/// [`f16_to_f32`] without the library's branches for zeros and subnormals, for the CPU
/// engine's inner loops: the f16 bits shifted into an f32 and scaled by 2^112 are the same
/// value for every finite f16 (the scaling is exact). Infinities and NaNs take the library.
#[inline]
pub fn f16_to_f32_fast(bits: u16) -> f32 {
    let magnitude = u32::from(bits & 0x7FFF);
    if magnitude >= 0x7C00 {
        return f16_to_f32(bits);
    }
    let value = f32::from_bits(magnitude << 13) * f32::from_bits(0x7780_0000);
    f32::from_bits(value.to_bits() | (u32::from(bits & 0x8000) << 16))
}

/// Round to nearest, ties to even, as ggml's `GGML_FP32_TO_FP16`.
pub fn f32_to_f16(v: f32) -> u16 {
    f16::from_f32(v).to_bits()
}

pub fn bf16_to_f32(bits: u16) -> f32 {
    f32::from_bits(u32::from(bits) << 16)
}

/// ggml's `ggml_compute_fp32_to_bf16`: NaN stays a quiet NaN, otherwise round to nearest even.
pub fn f32_to_bf16(v: f32) -> u16 {
    let u = v.to_bits();
    if u & 0x7fff_ffff > 0x7f80_0000 {
        return ((u >> 16) | 64) as u16;
    }
    ((u + (0x7fff + ((u >> 16) & 1))) >> 16) as u16
}

pub(super) fn dequantize_f32(bytes: &[u8], out: &mut [f32]) {
    for (o, b) in out.iter_mut().zip(bytes.chunks_exact(4)) {
        *o = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
    }
}

pub(super) fn dequantize_f16(bytes: &[u8], out: &mut [f32]) {
    for (o, b) in out.iter_mut().zip(bytes.chunks_exact(2)) {
        *o = f16_to_f32(u16::from_le_bytes([b[0], b[1]]));
    }
}

pub(super) fn dequantize_bf16(bytes: &[u8], out: &mut [f32]) {
    for (o, b) in out.iter_mut().zip(bytes.chunks_exact(2)) {
        *o = bf16_to_f32(u16::from_le_bytes([b[0], b[1]]));
    }
}
