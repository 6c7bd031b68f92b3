//! Dot product of one Q6_K row with an f32 vector. Each super-block holds 256 weights in 16
//! groups of 16 with a signed 8-bit scale each and one f16 scale `d`: `w = d·sc·(q − 32)`, q in
//! 0..64 from 4 low bits (`ql`) and 2 high bits (`qh`). In each 128-weight half, for l in
//! 0..32, weights l, l+32, l+64, l+96 take the low nibble of ql[l], the low nibble of
//! ql[l+32], the high nibbles of ql[l] and ql[l+32], and bits 0-1, 2-3, 4-5, 6-7 of qh[l]
//! (ggml's `block_q6_K`).

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
        let mut w = vec![0.0f32; QK];
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

#[cfg(target_arch = "wasm32")]
mod simd {
    use super::super::dot_f32::simd::sum;
    use super::super::dot_q8_0::i8x16_dot_f32;
    use super::QK;
    use crate::quant::{f16_to_f32, BlockQ6K};
    use core::arch::wasm32::*;

    #[target_feature(enable = "simd128")]
    pub fn dot(blocks: &[BlockQ6K], x: &[f32]) -> f32 {
        let low4 = u8x16_splat(0x0F);
        let two = u8x16_splat(0x03);
        let offset = i8x16_splat(32);
        let mut total = f32x4_splat(0.0);
        for (b, x) in blocks.iter().zip(x.chunks_exact(QK)) {
            let mut block = f32x4_splat(0.0);
            for h in 0..2 {
                let x = &x[128 * h..128 * h + 128];
                let sc = &b.scales[8 * h..8 * h + 8];
                for is in 0..2 {
                    let l = 16 * is;
                    // SAFETY: each load reads 16 of `ql` (64 per half) or `qh` (32 per half)
                    // bytes inside the block; wasm loads need no alignment.
                    let (ql_a, ql_b, qh) = unsafe {
                        let ql = b.ql.as_ptr().add(64 * h + l);
                        (
                            v128_load(ql.cast::<v128>()),
                            v128_load(ql.add(32).cast::<v128>()),
                            v128_load(b.qh.as_ptr().add(32 * h + l).cast::<v128>()),
                        )
                    };
                    let high = |shift: u32| i8x16_shl(v128_and(u8x16_shr(qh, shift), two), 4);
                    let q = [
                        v128_or(v128_and(ql_a, low4), high(0)),
                        v128_or(v128_and(ql_b, low4), high(2)),
                        v128_or(u8x16_shr(ql_a, 4), high(4)),
                        v128_or(u8x16_shr(ql_b, 4), high(6)),
                    ];
                    for (g, q) in q.into_iter().enumerate() {
                        let part = i8x16_dot_f32(i8x16_sub(q, offset), &x[32 * g + l..]);
                        let scale = f32x4_splat(f32::from(sc[is + 2 * g]));
                        block = f32x4_add(block, f32x4_mul(part, scale));
                    }
                }
            }
            let d = f16_to_f32(u16::from_le_bytes(b.d));
            total = f32x4_add(total, f32x4_mul(block, f32x4_splat(d)));
        }
        sum(total)
    }
}
