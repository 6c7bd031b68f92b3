//! Q4_0: blocks of 32 weights, an f16 scale and 16 bytes of nibbles (low nibbles are weights
//! 0..16, high nibbles 16..32); w = d·(q − 8).

use super::f16_to_f32;

pub const QK4_0: usize = 32;

#[derive(Clone, Copy, Debug, PartialEq, Eq, bytemuck::Pod, bytemuck::Zeroable)]
#[repr(C)]
pub struct BlockQ4_0 {
    pub d: [u8; 2],
    pub qs: [u8; QK4_0 / 2],
}

const _: () = assert!(std::mem::size_of::<BlockQ4_0>() == 18);

pub(super) fn dequantize(blocks: &[BlockQ4_0], out: &mut [f32]) {
    for (b, y) in blocks.iter().zip(out.chunks_exact_mut(QK4_0)) {
        let d = f16_to_f32(u16::from_le_bytes(b.d));
        let (lo, hi) = y.split_at_mut(QK4_0 / 2);
        for (j, &q) in b.qs.iter().enumerate() {
            lo[j] = (i32::from(q & 0xF) - 8) as f32 * d;
            hi[j] = (i32::from(q >> 4) - 8) as f32 * d;
        }
    }
}
