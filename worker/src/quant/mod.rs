//! CPU reference quantization: dequantize every weight type a Llama GGUF commonly uses to f32,
//! and quantize f32 to Q6_K and Q8_0.
//!
//! Written from ggml's `ggml-common.h` (block layouts) and `ggml-quants.c` (`dequantize_row_*`,
//! `quantize_row_q6_K_ref`, `make_qx_quants`, `quantize_row_q8_0_ref`). Arithmetic is done in the
//! same order as ggml, in f32 with no fused multiply-add, so results are bit-identical to ggml's
//! and to the `gguf` Python package's (tests check both). The GPU kernels are tested against
//! these.

mod float;
mod q4_0;
mod q4_1;
mod q4_k;
mod q5_k;
mod q6_k;
mod q8_0;

pub use float::{bf16_to_f32, f16_to_f32, f16_to_f32_fast, f32_to_bf16, f32_to_f16};
pub use q4_0::BlockQ4_0;
pub use q4_1::BlockQ4_1;
pub use q4_k::BlockQ4K;
pub use q5_k::BlockQ5K;
pub use q6_k::{levels as q6_k_levels, quantize_q6_k, BlockQ6K};
pub use q8_0::{quantize_q8_0, BlockQ8_0};

use crate::gguf::GgmlType;

/// Weights per K-quant super-block (ggml's `QK_K`).
pub const QK_K: usize = 256;

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum QuantError {
    #[error("no CPU {op} for {ty} tensors")]
    Unsupported { op: &'static str, ty: GgmlType },
    #[error("{n} weights are not a whole number of {ty} blocks of {block}")]
    NotBlockMultiple {
        ty: GgmlType,
        n: usize,
        block: usize,
    },
    #[error("{bytes} bytes of {ty} hold {expected} weights, but the output has room for {out}")]
    LengthMismatch {
        ty: GgmlType,
        bytes: usize,
        expected: usize,
        out: usize,
    },
    #[error("{bytes} bytes are not a whole number of {ty} blocks of {block_bytes} bytes")]
    PartialBlock {
        ty: GgmlType,
        bytes: usize,
        block_bytes: usize,
    },
}

/// The types `dequantize` handles.
pub const DEQUANTIZABLE: [GgmlType; 9] = [
    GgmlType::F32,
    GgmlType::F16,
    GgmlType::Bf16,
    GgmlType::Q8_0,
    GgmlType::Q6K,
    GgmlType::Q4K,
    GgmlType::Q5K,
    GgmlType::Q4_0,
    GgmlType::Q4_1,
];

/// Number of weights `bytes` of type `ty` hold.
pub fn weights_in(ty: GgmlType, bytes: usize) -> Result<usize, QuantError> {
    let block_bytes = ty.bytes_per_block() as usize;
    if !bytes.is_multiple_of(block_bytes) {
        return Err(QuantError::PartialBlock {
            ty,
            bytes,
            block_bytes,
        });
    }
    Ok(bytes / block_bytes * ty.block_size() as usize)
}

/// Decodes `bytes` (whole blocks of `ty`) into `out`, which must have room for exactly the
/// weights they hold.
pub fn dequantize(ty: GgmlType, bytes: &[u8], out: &mut [f32]) -> Result<(), QuantError> {
    if !DEQUANTIZABLE.contains(&ty) {
        return Err(QuantError::Unsupported {
            op: "dequantization",
            ty,
        });
    }
    let expected = weights_in(ty, bytes.len())?;
    if expected != out.len() {
        return Err(QuantError::LengthMismatch {
            ty,
            bytes: bytes.len(),
            expected,
            out: out.len(),
        });
    }
    match ty {
        GgmlType::F32 => float::dequantize_f32(bytes, out),
        GgmlType::F16 => float::dequantize_f16(bytes, out),
        GgmlType::Bf16 => float::dequantize_bf16(bytes, out),
        GgmlType::Q8_0 => q8_0::dequantize(blocks(bytes)?, out),
        GgmlType::Q6K => q6_k::dequantize(blocks(bytes)?, out),
        GgmlType::Q4K => q4_k::dequantize(blocks(bytes)?, out),
        GgmlType::Q5K => q5_k::dequantize(blocks(bytes)?, out),
        GgmlType::Q4_0 => q4_0::dequantize(blocks(bytes)?, out),
        GgmlType::Q4_1 => q4_1::dequantize(blocks(bytes)?, out),
        _ => unreachable!("checked against DEQUANTIZABLE"),
    }
    Ok(())
}

/// `dequantize` into a new vector.
pub fn dequantize_to_vec(ty: GgmlType, bytes: &[u8]) -> Result<Vec<f32>, QuantError> {
    let mut out = vec![0.0; weights_in(ty, bytes.len())?];
    dequantize(ty, bytes, &mut out)?;
    Ok(out)
}

/// Encodes f32 weights as `ty` (F32, F16, BF16, Q8_0 or Q6_K). The length must be a whole number
/// of blocks; quantize row by row so blocks never straddle rows.
pub fn quantize(ty: GgmlType, x: &[f32]) -> Result<Vec<u8>, QuantError> {
    match ty {
        GgmlType::F32 => Ok(x.iter().flat_map(|v| v.to_le_bytes()).collect()),
        GgmlType::F16 => Ok(x
            .iter()
            .flat_map(|&v| f32_to_f16(v).to_le_bytes())
            .collect()),
        GgmlType::Bf16 => Ok(x
            .iter()
            .flat_map(|&v| f32_to_bf16(v).to_le_bytes())
            .collect()),
        GgmlType::Q8_0 => quantize_q8_0(x),
        GgmlType::Q6K => quantize_q6_k(x),
        ty => Err(QuantError::Unsupported {
            op: "quantization",
            ty,
        }),
    }
}

/// Views whole blocks. Block structs are byte arrays (alignment 1), so any slice whose length is
/// a multiple of the block size casts.
fn blocks<B: bytemuck::Pod>(bytes: &[u8]) -> Result<&[B], QuantError> {
    bytemuck::try_cast_slice(bytes).map_err(|_| QuantError::PartialBlock {
        ty: GgmlType::F32,
        bytes: bytes.len(),
        block_bytes: std::mem::size_of::<B>(),
    })
}

/// ggml's `nearest_int`: adds 1.5·2²³ and reads the mantissa, i.e. rounds half to even. Valid
/// for |v| ≤ 2²²; callers clamp the result, so larger magnitudes (and NaN, as 0) saturate.
#[inline]
pub(crate) fn nearest_int(v: f32) -> i32 {
    if v.is_nan() {
        return 0;
    }
    v.clamp(-4_194_303.0, 4_194_303.0).round_ties_even() as i32
}

#[cfg(test)]
pub(crate) mod test_data;
#[cfg(test)]
mod tests;
