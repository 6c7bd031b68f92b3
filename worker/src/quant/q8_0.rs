//! Q8_0: blocks of 32 weights, an f16 scale and 32 signed bytes; w = d·q.

use super::{f16_to_f32, f32_to_f16, QuantError};
use crate::gguf::GgmlType;

pub const QK8_0: usize = 32;

#[derive(Clone, Copy, Debug, PartialEq, Eq, bytemuck::Pod, bytemuck::Zeroable)]
#[repr(C)]
pub struct BlockQ8_0 {
    /// f16 scale, little-endian.
    pub d: [u8; 2],
    pub qs: [i8; QK8_0],
}

const _: () = assert!(std::mem::size_of::<BlockQ8_0>() == 34);
const _: () = assert!(std::mem::align_of::<BlockQ8_0>() == 1);

pub(super) fn dequantize(blocks: &[BlockQ8_0], out: &mut [f32]) {
    for (b, y) in blocks.iter().zip(out.chunks_exact_mut(QK8_0)) {
        let d = f16_to_f32(u16::from_le_bytes(b.d));
        for (y, &q) in y.iter_mut().zip(&b.qs) {
            *y = f32::from(q) * d;
        }
    }
}

/// ggml's `quantize_row_q8_0_ref`: the scale maps the block's largest magnitude to ±127 and
/// each weight is rounded half away from zero.
pub fn quantize_q8_0(x: &[f32]) -> Result<Vec<u8>, QuantError> {
    if !x.len().is_multiple_of(QK8_0) {
        return Err(QuantError::NotBlockMultiple {
            ty: GgmlType::Q8_0,
            n: x.len(),
            block: QK8_0,
        });
    }
    let mut out = Vec::with_capacity(x.len() / QK8_0 * 34);
    for xb in x.chunks_exact(QK8_0) {
        let amax = xb
            .iter()
            .fold(0.0f32, |m, v| if m > v.abs() { m } else { v.abs() });
        let d = amax / 127.0;
        let id = if d != 0.0 { 1.0 / d } else { 0.0 };
        let mut block = BlockQ8_0 {
            d: f32_to_f16(d).to_le_bytes(),
            qs: [0; QK8_0],
        };
        for (q, &v) in block.qs.iter_mut().zip(xb) {
            // |v·id| ≤ 127 up to rounding; `as` saturates anything else (NaN becomes 0).
            *q = (v * id).round() as i8;
        }
        out.extend_from_slice(bytemuck::bytes_of(&block));
    }
    Ok(out)
}
