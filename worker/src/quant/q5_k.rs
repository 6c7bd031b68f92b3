//! Q5_K: Q4_K plus a fifth bit per weight. `qh` byte l holds bit 4 of weight l of every
//! sub-block: sub-block i in bit i. w = d·sc·q − dmin·m.

use super::q4_k::{scale_min, K_SCALE_SIZE};
use super::{f16_to_f32, QK_K};

#[derive(Clone, Copy, Debug, PartialEq, Eq, bytemuck::Pod, bytemuck::Zeroable)]
#[repr(C)]
pub struct BlockQ5K {
    pub d: [u8; 2],
    pub dmin: [u8; 2],
    pub scales: [u8; K_SCALE_SIZE],
    pub qh: [u8; QK_K / 8],
    pub qs: [u8; QK_K / 2],
}

const _: () = assert!(std::mem::size_of::<BlockQ5K>() == 176);

pub(super) fn dequantize(blocks: &[BlockQ5K], out: &mut [f32]) {
    for (b, y) in blocks.iter().zip(out.chunks_exact_mut(QK_K)) {
        let d = f16_to_f32(u16::from_le_bytes(b.d));
        let min = f16_to_f32(u16::from_le_bytes(b.dmin));
        for (pair, (ql, y)) in
            b.qs.chunks_exact(32)
                .zip(y.chunks_exact_mut(64))
                .enumerate()
        {
            let (sc1, m1) = scale_min(2 * pair, &b.scales);
            let (sc2, m2) = scale_min(2 * pair + 1, &b.scales);
            let (d1, m1) = (d * f32::from(sc1), min * f32::from(m1));
            let (d2, m2) = (d * f32::from(sc2), min * f32::from(m2));
            let (u1, u2) = (1u8 << (2 * pair), 2u8 << (2 * pair));
            let (lo, hi) = y.split_at_mut(32);
            for l in 0..32 {
                let h1 = if b.qh[l] & u1 != 0 { 16 } else { 0 };
                let h2 = if b.qh[l] & u2 != 0 { 16 } else { 0 };
                lo[l] = d1 * f32::from((ql[l] & 0xF) + h1) - m1;
                hi[l] = d2 * f32::from((ql[l] >> 4) + h2) - m2;
            }
        }
    }
}
