//! Q6_K: super-blocks of 256 weights in 16 sub-blocks of 16, each with a signed 8-bit scale,
//! and one f16 scale `d`. Each weight is 6 bits, q ∈ 0..64: 4 low bits in `ql`, 2 high bits in
//! `qh`. w = d·sc·(q − 32).
//!
//! Layout of each 128-weight half h: `ql[64h..64h+64]`, `qh[32h..32h+32]`, `scales[8h..8h+8]`.
//! For l in 0..32, weights l, l+32, l+64, l+96 of the half take the low nibble of ql[l], the low
//! nibble of ql[l+32], the high nibble of ql[l], the high nibble of ql[l+32], and bits 0-1, 2-3,
//! 4-5, 6-7 of qh[l].

use super::{f16_to_f32, f32_to_f16, nearest_int, QuantError, QK_K};
use crate::gguf::GgmlType;

#[derive(Clone, Copy, Debug, PartialEq, Eq, bytemuck::Pod, bytemuck::Zeroable)]
#[repr(C)]
pub struct BlockQ6K {
    pub ql: [u8; QK_K / 2],
    pub qh: [u8; QK_K / 4],
    pub scales: [i8; QK_K / 16],
    pub d: [u8; 2],
}

const _: () = assert!(std::mem::size_of::<BlockQ6K>() == 210);
const _: () = assert!(std::mem::align_of::<BlockQ6K>() == 1);

pub(super) fn dequantize(blocks: &[BlockQ6K], out: &mut [f32]) {
    for (b, y) in blocks.iter().zip(out.chunks_exact_mut(QK_K)) {
        let d = f16_to_f32(u16::from_le_bytes(b.d));
        for h in 0..2 {
            let ql = &b.ql[64 * h..64 * h + 64];
            let qh = &b.qh[32 * h..32 * h + 32];
            let sc = &b.scales[8 * h..8 * h + 8];
            let y = &mut y[128 * h..128 * h + 128];
            for l in 0..32 {
                let is = l / 16;
                let q1 = i32::from((ql[l] & 0xF) | ((qh[l] & 3) << 4)) - 32;
                let q2 = i32::from((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
                let q3 = i32::from((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
                let q4 = i32::from((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
                y[l] = d * f32::from(sc[is]) * q1 as f32;
                y[l + 32] = d * f32::from(sc[is + 2]) * q2 as f32;
                y[l + 64] = d * f32::from(sc[is + 4]) * q3 as f32;
                y[l + 96] = d * f32::from(sc[is + 6]) * q4 as f32;
            }
        }
    }
}

/// Each weight's 6-bit level q (0..64) in weight order: w = d·scales[i / 16]·(q − 32).
pub fn levels(b: &BlockQ6K) -> [u8; QK_K] {
    let mut q = [0u8; QK_K];
    for h in 0..2 {
        let ql = &b.ql[64 * h..64 * h + 64];
        let qh = &b.qh[32 * h..32 * h + 32];
        let q = &mut q[128 * h..128 * h + 128];
        for l in 0..32 {
            q[l] = (ql[l] & 0xF) | ((qh[l] & 3) << 4);
            q[l + 32] = (ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4);
            q[l + 64] = (ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4);
            q[l + 96] = (ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4);
        }
    }
    q
}

/// Below this a group is treated as all zeros (ggml's `GROUP_MAX_EPS`).
const GROUP_MAX_EPS: f32 = 1e-15;

/// ggml's `make_qx_quants` with `rmse_type` 1 and no importance weights: picks the scale of a
/// group that minimises the x²-weighted squared error, trying the plain max-based scale and 18
/// nudged ones (`nmax ± 0.1·k`). Writes `L[i] = q + nmax` and returns the scale.
fn best_group_scale(x: &[f32], nmax: i32, levels: &mut [i8]) -> f32 {
    let mut max = 0.0f32;
    let mut amax = 0.0f32;
    for &v in x {
        if v.abs() > amax {
            amax = v.abs();
            max = v;
        }
    }
    if amax < GROUP_MAX_EPS {
        levels.fill(0);
        return 0.0;
    }
    let quant = |iscale: f32, v: f32| nearest_int(iscale * v).clamp(-nmax, nmax - 1);
    // Weighted sums Σw·x·l and Σw·l² for w = x², in ggml's evaluation order.
    let sums = |iscale: f32| {
        let (mut sumlx, mut suml2) = (0.0f32, 0.0f32);
        for &v in x {
            let l = quant(iscale, v) as f32;
            let w = v * v;
            sumlx += w * v * l;
            suml2 += w * l * l;
        }
        (sumlx, suml2)
    };
    let mut iscale = -(nmax as f32) / max;
    for (l, &v) in levels.iter_mut().zip(x) {
        *l = (quant(iscale, v) + nmax) as i8;
    }
    let (sumlx, suml2) = sums(iscale);
    let mut scale = if suml2 != 0.0 { sumlx / suml2 } else { 0.0 };
    let mut best = scale * sumlx;
    for is in (-9..=9).filter(|&is| is != 0) {
        iscale = -(nmax as f32 + 0.1 * is as f32) / max;
        let (sumlx, suml2) = sums(iscale);
        if suml2 > 0.0 && sumlx * sumlx > best * suml2 {
            for (l, &v) in levels.iter_mut().zip(x) {
                *l = (quant(iscale, v) + nmax) as i8;
            }
            scale = sumlx / suml2;
            best = scale * sumlx;
        }
    }
    scale
}

/// Quantizes one super-block (ggml's `quantize_row_q6_K_ref`): a scale per group of 16, then
/// the groups' scales quantized to i8 against the largest (which maps to −128), then every
/// weight re-rounded against its group's quantized scale.
/// `x` holds one super-block (256 weights).
fn quantize_block(x: &[f32]) -> BlockQ6K {
    let mut levels = [0i8; QK_K];
    let mut scales = [0.0f32; QK_K / 16];
    let mut max_scale = 0.0f32;
    let mut max_abs_scale = 0.0f32;
    let groups = x.chunks_exact(16).zip(levels.chunks_exact_mut(16));
    for (scale, (group, l)) in scales.iter_mut().zip(groups) {
        *scale = best_group_scale(group, 32, l);
        if scale.abs() > max_abs_scale {
            max_abs_scale = scale.abs();
            max_scale = *scale;
        }
    }
    let mut block = BlockQ6K {
        ql: [0; QK_K / 2],
        qh: [0; QK_K / 4],
        scales: [0; QK_K / 16],
        d: [0; 2],
    };
    if max_abs_scale < GROUP_MAX_EPS {
        return block;
    }
    let iscale = -128.0 / max_scale;
    block.d = f32_to_f16(1.0 / iscale).to_le_bytes();
    for (q, &s) in block.scales.iter_mut().zip(&scales) {
        *q = nearest_int(iscale * s).clamp(-128, 127) as i8;
    }
    let d = f16_to_f32(u16::from_le_bytes(block.d));
    for (j, &sc) in block.scales.iter().enumerate() {
        let dj = d * f32::from(sc);
        // A zero group keeps its levels from the group fit (they dequantize to 0 anyway).
        if dj == 0.0 {
            continue;
        }
        for ii in 0..16 {
            let l = nearest_int(x[16 * j + ii] / dj).clamp(-32, 31);
            levels[16 * j + ii] = (l + 32) as i8;
        }
    }
    for h in 0..2 {
        let lv = &levels[128 * h..128 * h + 128];
        let ql = &mut block.ql[64 * h..64 * h + 64];
        for l in 0..32 {
            let q = |k: usize| lv[l + 32 * k] as u8;
            ql[l] = (q(0) & 0xF) | ((q(2) & 0xF) << 4);
            ql[l + 32] = (q(1) & 0xF) | ((q(3) & 0xF) << 4);
            block.qh[32 * h + l] =
                (q(0) >> 4) | ((q(1) >> 4) << 2) | ((q(2) >> 4) << 4) | ((q(3) >> 4) << 6);
        }
    }
    block
}

/// Quantizes weights to Q6_K exactly as ggml's reference quantizer does (the one
/// `llama-quantize` uses without an importance matrix). The length must be a multiple of 256.
pub fn quantize_q6_k(x: &[f32]) -> Result<Vec<u8>, QuantError> {
    if !x.len().is_multiple_of(QK_K) {
        return Err(QuantError::NotBlockMultiple {
            ty: GgmlType::Q6K,
            n: x.len(),
            block: QK_K,
        });
    }
    let mut out = Vec::with_capacity(x.len() / QK_K * 210);
    for xb in x.chunks_exact(QK_K) {
        out.extend_from_slice(bytemuck::bytes_of(&quantize_block(xb)));
    }
    Ok(out)
}
