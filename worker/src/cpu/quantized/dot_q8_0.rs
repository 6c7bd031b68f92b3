//! Dot product of one Q8_0 row (blocks of an f16 scale and 32 signed bytes, `w = d·q`) with an
//! f32 vector.

use super::input::QuantizedInput;
use crate::quant::BlockQ8_0;

const QK: usize = 32;

/// `Σ w[i]·x[i]` over the row's blocks; `x` has 32 values per block.
pub fn dot(row: &[u8], x: &[f32]) -> f32 {
    let blocks: &[BlockQ8_0] = bytemuck::cast_slice(row);
    assert_eq!(blocks.len() * QK, x.len(), "Q8_0 row and input lengths");
    #[cfg(target_arch = "wasm32")]
    {
        simd::dot(blocks, x)
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        blocks
            .iter()
            .zip(x.chunks_exact(QK))
            .map(|(b, x)| {
                let sum: f32 = b.qs.iter().zip(x).map(|(&q, &x)| f32::from(q) * x).sum();
                crate::quant::f16_to_f32_fast(u16::from_le_bytes(b.d)) * sum
            })
            .sum()
    }
}

/// `Σ w[i]·x[i]` with `x` quantized to 8-bit blocks of 32 (one per weight block).
pub fn dot_int8(row: &[u8], x: &QuantizedInput) -> f32 {
    let blocks: &[BlockQ8_0] = bytemuck::cast_slice(row);
    assert_eq!(blocks.len() * QK, x.len(), "Q8_0 row and input lengths");
    #[cfg(target_arch = "wasm32")]
    {
        simd::dot_int8(blocks, x)
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        blocks
            .iter()
            .zip(x.qs.chunks_exact(QK).zip(&x.scales))
            .map(|(b, (q, &da))| {
                let sum: i32 =
                    b.qs.iter()
                        .zip(q)
                        .map(|(&w, &a)| i32::from(w) * i32::from(a))
                        .sum();
                crate::quant::f16_to_f32_fast(u16::from_le_bytes(b.d)) * da * sum as f32
            })
            .sum()
    }
}

#[cfg(target_arch = "wasm32")]
mod simd {
    use super::super::dot_f32::simd::{load, sum};
    use super::QK;
    use crate::cpu::quantized::input::QuantizedInput;
    use crate::quant::{f16_to_f32_fast, BlockQ8_0};
    use core::arch::wasm32::*;

    #[target_feature(enable = "simd128")]
    pub fn dot(blocks: &[BlockQ8_0], x: &[f32]) -> f32 {
        let mut total = f32x4_splat(0.0);
        for (b, x) in blocks.iter().zip(x.chunks_exact(QK)) {
            // SAFETY: `qs` is 32 bytes; wasm loads need no alignment.
            let (lo, hi) = unsafe {
                let p = b.qs.as_ptr().cast::<v128>();
                (v128_load(p), v128_load(p.add(1)))
            };
            let part = f32x4_add(i8x16_dot_f32(lo, &x[..16]), i8x16_dot_f32(hi, &x[16..]));
            let d = f16_to_f32_fast(u16::from_le_bytes(b.d));
            total = f32x4_add(total, f32x4_mul(part, f32x4_splat(d)));
        }
        sum(total)
    }

    #[target_feature(enable = "simd128")]
    pub fn dot_int8(blocks: &[BlockQ8_0], x: &QuantizedInput) -> f32 {
        let mut total = f32x4_splat(0.0);
        for (b, (a, &da)) in blocks.iter().zip(x.qs.chunks_exact(QK).zip(&x.scales)) {
            // SAFETY: `qs` and `a` are 32 bytes each; wasm loads need no alignment.
            let (w0, w1, a0, a1) = unsafe {
                let w = b.qs.as_ptr().cast::<v128>();
                let a = a.as_ptr().cast::<v128>();
                (
                    v128_load(w),
                    v128_load(w.add(1)),
                    v128_load(a),
                    v128_load(a.add(1)),
                )
            };
            let sum = i32x4_add(i8x16_dot_i8x16(w0, a0), i8x16_dot_i8x16(w1, a1));
            let d = f16_to_f32_fast(u16::from_le_bytes(b.d)) * da;
            total = f32x4_add(total, f32x4_mul(f32x4_convert_i32x4(sum), f32x4_splat(d)));
        }
        sum(total)
    }

    /// Sixteen signed bytes times sixteen signed bytes, as four i32 partial sums (each
    /// product fits i16: |w| ≤ 128, |a| ≤ 127).
    #[target_feature(enable = "simd128")]
    #[inline]
    pub fn i8x16_dot_i8x16(w: v128, a: v128) -> v128 {
        i32x4_add(
            i32x4_extadd_pairwise_i16x8(i16x8_extmul_low_i8x16(w, a)),
            i32x4_extadd_pairwise_i16x8(i16x8_extmul_high_i8x16(w, a)),
        )
    }

    /// Sixteen signed bytes times sixteen f32, as four partial sums.
    #[target_feature(enable = "simd128")]
    #[inline]
    pub fn i8x16_dot_f32(q: v128, x: &[f32]) -> v128 {
        let lo = i16x8_extend_low_i8x16(q);
        let hi = i16x8_extend_high_i8x16(q);
        let f = |v: v128| f32x4_convert_i32x4(v);
        let a = f32x4_mul(f(i32x4_extend_low_i16x8(lo)), load(&x[0..4]));
        let b = f32x4_mul(f(i32x4_extend_high_i16x8(lo)), load(&x[4..8]));
        let c = f32x4_mul(f(i32x4_extend_low_i16x8(hi)), load(&x[8..12]));
        let d = f32x4_mul(f(i32x4_extend_high_i16x8(hi)), load(&x[12..16]));
        f32x4_add(f32x4_add(a, b), f32x4_add(c, d))
    }
}

#[cfg(target_arch = "wasm32")]
pub(super) use simd::{i8x16_dot_f32, i8x16_dot_i8x16};
