//! Q4_K: super-blocks of 256 weights in 8 sub-blocks of 32. An f16 scale `d` and minimum
//! `dmin`, 6-bit sub-block scales and mins packed in 12 bytes, and 128 bytes of nibbles: each
//! run of 32 bytes holds sub-block 2i in its low nibbles and 2i+1 in its high nibbles.
//! w = d·sc·q − dmin·m.

use super::{f16_to_f32, QK_K};

pub const K_SCALE_SIZE: usize = 12;

#[derive(Clone, Copy, Debug, PartialEq, Eq, bytemuck::Pod, bytemuck::Zeroable)]
#[repr(C)]
pub struct BlockQ4K {
    pub d: [u8; 2],
    pub dmin: [u8; 2],
    pub scales: [u8; K_SCALE_SIZE],
    pub qs: [u8; QK_K / 2],
}

const _: () = assert!(std::mem::size_of::<BlockQ4K>() == 144);

/// Scale and min of sub-block `j` (0..8) from the 12 packed bytes (ggml's `get_scale_min_k4`):
/// bytes 0..4 hold the low 6 bits of scales 0..4, bytes 4..8 those of mins 0..4; scales and mins
/// 4..8 keep their low 4 bits in bytes 8..12 and their top 2 bits in the top of bytes 0..8.
pub(super) fn scale_min(j: usize, q: &[u8; K_SCALE_SIZE]) -> (u8, u8) {
    if j < 4 {
        (q[j] & 63, q[j + 4] & 63)
    } else {
        (
            (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4),
            (q[j + 4] >> 4) | ((q[j] >> 6) << 4),
        )
    }
}

pub(super) fn dequantize(blocks: &[BlockQ4K], out: &mut [f32]) {
    for (b, y) in blocks.iter().zip(out.chunks_exact_mut(QK_K)) {
        let d = f16_to_f32(u16::from_le_bytes(b.d));
        let min = f16_to_f32(u16::from_le_bytes(b.dmin));
        for (pair, (q, y)) in
            b.qs.chunks_exact(32)
                .zip(y.chunks_exact_mut(64))
                .enumerate()
        {
            let (sc1, m1) = scale_min(2 * pair, &b.scales);
            let (sc2, m2) = scale_min(2 * pair + 1, &b.scales);
            let (d1, m1) = (d * f32::from(sc1), min * f32::from(m1));
            let (d2, m2) = (d * f32::from(sc2), min * f32::from(m2));
            let (lo, hi) = y.split_at_mut(32);
            for l in 0..32 {
                lo[l] = d1 * f32::from(q[l] & 0xF) - m1;
                hi[l] = d2 * f32::from(q[l] >> 4) - m2;
            }
        }
    }
}
