//! Dot product of one Q6_K row with an f32 vector. Each super-block holds 256 weights in 16
//! groups of 16 with a signed 8-bit scale each and one f16 scale `d`: `w = d·sc·(q − 32)`, q in
//! 0..64 from 4 low bits (`ql`) and 2 high bits (`qh`). In each 128-weight half, for l in
//! 0..32, weights l, l+32, l+64, l+96 take the low nibble of ql[l], the low nibble of
//! ql[l+32], the high nibbles of ql[l] and ql[l+32], and bits 0-1, 2-3, 4-5, 6-7 of qh[l]
//! (ggml's `block_q6_K`).

use super::input::QuantizedInput;
use crate::quant::BlockQ6K;

const QK: usize = 256;

/// `Σ w[i]·x[i]` over the row's super-blocks; `x` has 256 values per block.
pub fn dot(row: &[u8], x: &[f32]) -> f32 {
    let blocks: &[BlockQ6K] = bytemuck::cast_slice(row);
    assert_eq!(blocks.len() * QK, x.len(), "Q6_K row and input lengths");
    #[cfg(target_arch = "wasm32")]
    {
        simd::dot(blocks, x)
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        let mut w = [0.0f32; QK];
        blocks
            .iter()
            .zip(x.chunks_exact(QK))
            .map(|(b, x)| {
                crate::quant::dequantize(crate::gguf::GgmlType::Q6K, bytemuck::bytes_of(b), &mut w)
                    .expect("one whole block");
                crate::cpu::ops::dot(&w, x)
            })
            .sum()
    }
}

/// `Σ w[i]·x[i]` with `x` quantized to 8-bit blocks of 32 (eight per super-block; each group
/// of 16 weights lies inside one).
pub fn dot_int8(row: &[u8], x: &QuantizedInput) -> f32 {
    let blocks: &[BlockQ6K] = bytemuck::cast_slice(row);
    assert_eq!(blocks.len() * QK, x.len(), "Q6_K row and input lengths");
    #[cfg(target_arch = "wasm32")]
    {
        simd::dot_int8(blocks, x)
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        let mut total = 0f32;
        for (i, b) in blocks.iter().enumerate() {
            let a = &x.qs[QK * i..QK * (i + 1)];
            let da = &x.scales[8 * i..8 * (i + 1)];
            let mut block = 0f32;
            for h in 0..2 {
                let (ql, qh) = (&b.ql[64 * h..], &b.qh[32 * h..]);
                let mut sums = [0i32; 4];
                for l in 0..32 {
                    let q = [
                        (ql[l] & 0xF) | ((qh[l] & 3) << 4),
                        (ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4),
                        (ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4),
                        (ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4),
                    ];
                    for (g, q) in q.into_iter().enumerate() {
                        let sc = i32::from(b.scales[8 * h + l / 16 + 2 * g]);
                        let w = i32::from(q) - 32;
                        sums[g] += sc * w * i32::from(a[128 * h + 32 * g + l]);
                    }
                }
                for (g, s) in sums.into_iter().enumerate() {
                    block += s as f32 * da[4 * h + g];
                }
            }
            total += crate::quant::f16_to_f32_fast(u16::from_le_bytes(b.d)) * block;
        }
        total
    }
}

#[cfg(target_arch = "wasm32")]
mod simd {
    use super::super::dot_f32::simd::sum;
    use super::super::dot_q8_0::{i8x16_dot_f32, i8x16_dot_i8x16};
    use super::QK;
    use crate::cpu::quantized::input::QuantizedInput;
    use crate::quant::{f16_to_f32_fast, BlockQ6K};
    use core::arch::wasm32::*;

    #[target_feature(enable = "simd128")]
    pub fn dot(blocks: &[BlockQ6K], x: &[f32]) -> f32 {
        let mut total = f32x4_splat(0.0);
        for (b, x) in blocks.iter().zip(x.chunks_exact(QK)) {
            let mut block = f32x4_splat(0.0);
            for h in 0..2 {
                let x = &x[128 * h..128 * h + 128];
                let sc = &b.scales[8 * h..8 * h + 8];
                for is in 0..2 {
                    let l = 16 * is;
                    for (g, q) in unpack(b, h, l).into_iter().enumerate() {
                        let part = i8x16_dot_f32(q, &x[32 * g + l..]);
                        let scale = f32x4_splat(f32::from(sc[is + 2 * g]));
                        block = f32x4_add(block, f32x4_mul(part, scale));
                    }
                }
            }
            let d = f16_to_f32_fast(u16::from_le_bytes(b.d));
            total = f32x4_add(total, f32x4_mul(block, f32x4_splat(d)));
        }
        sum(total)
    }

    /// The 6-bit weights of one half's groups at offset `l` (0 or 16), minus 32, as four
    /// i8x16: groups at 0, 32, 64 and 96 of the half.
    #[target_feature(enable = "simd128")]
    #[inline]
    fn unpack(b: &BlockQ6K, h: usize, l: usize) -> [v128; 4] {
        let low4 = u8x16_splat(0x0F);
        let two = u8x16_splat(0x03);
        let offset = i8x16_splat(32);
        // SAFETY: each load reads 16 of `ql` (64 per half) or `qh` (32 per half) bytes inside
        // the block; wasm loads need no alignment.
        let (ql_a, ql_b, qh) = unsafe {
            let ql = b.ql.as_ptr().add(64 * h + l);
            (
                v128_load(ql.cast::<v128>()),
                v128_load(ql.add(32).cast::<v128>()),
                v128_load(b.qh.as_ptr().add(32 * h + l).cast::<v128>()),
            )
        };
        let high = |shift: u32| i8x16_shl(v128_and(u8x16_shr(qh, shift), two), 4);
        [
            i8x16_sub(v128_or(v128_and(ql_a, low4), high(0)), offset),
            i8x16_sub(v128_or(v128_and(ql_b, low4), high(2)), offset),
            i8x16_sub(v128_or(u8x16_shr(ql_a, 4), high(4)), offset),
            i8x16_sub(v128_or(u8x16_shr(ql_b, 4), high(6)), offset),
        ]
    }

    #[target_feature(enable = "simd128")]
    pub fn dot_int8(blocks: &[BlockQ6K], x: &QuantizedInput) -> f32 {
        let mut total = f32x4_splat(0.0);
        for (i, b) in blocks.iter().enumerate() {
            let a = &x.qs[QK * i..QK * (i + 1)];
            let da = &x.scales[8 * i..8 * (i + 1)];
            let mut block = f32x4_splat(0.0);
            for h in 0..2 {
                let sc = &b.scales[8 * h..8 * h + 8];
                let mut sums = [i32x4_splat(0); 4];
                for is in 0..2 {
                    let l = 16 * is;
                    for (g, q) in unpack(b, h, l).into_iter().enumerate() {
                        let start = 128 * h + 32 * g + l;
                        // SAFETY: 16 bytes of the 256-byte `a` at `start` ≤ 240.
                        let av = unsafe { v128_load(a.as_ptr().add(start).cast::<v128>()) };
                        let p = i8x16_dot_i8x16(q, av);
                        let scale = i32x4_splat(i32::from(sc[is + 2 * g]));
                        sums[g] = i32x4_add(sums[g], i32x4_mul(p, scale));
                    }
                }
                for (g, s) in sums.into_iter().enumerate() {
                    let s = f32x4_convert_i32x4(s);
                    block = f32x4_add(block, f32x4_mul(s, f32x4_splat(da[4 * h + g])));
                }
            }
            let d = f16_to_f32_fast(u16::from_le_bytes(b.d));
            total = f32x4_add(total, f32x4_mul(block, f32x4_splat(d)));
        }
        sum(total)
    }
}
