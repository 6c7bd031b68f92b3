//! Q4_1: blocks of 32 weights, an f16 scale, an f16 minimum and 16 bytes of nibbles (low
//! nibbles are weights 0..16, high nibbles 16..32); w = d·q + m.

use super::f16_to_f32;

pub const QK4_1: usize = 32;

#[derive(Clone, Copy, Debug, PartialEq, Eq, bytemuck::Pod, bytemuck::Zeroable)]
#[repr(C)]
pub struct BlockQ4_1 {
    pub d: [u8; 2],
    pub m: [u8; 2],
    pub qs: [u8; QK4_1 / 2],
}

const _: () = assert!(std::mem::size_of::<BlockQ4_1>() == 20);

pub(super) fn dequantize(blocks: &[BlockQ4_1], out: &mut [f32]) {
    for (b, y) in blocks.iter().zip(out.chunks_exact_mut(QK4_1)) {
        let d = f16_to_f32(u16::from_le_bytes(b.d));
        let m = f16_to_f32(u16::from_le_bytes(b.m));
        let (lo, hi) = y.split_at_mut(QK4_1 / 2);
        for (j, &q) in b.qs.iter().enumerate() {
            lo[j] = f32::from(q & 0xF) * d + m;
            hi[j] = f32::from(q >> 4) * d + m;
        }
    }
}
