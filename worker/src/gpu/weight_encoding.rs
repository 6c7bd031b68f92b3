//! How a weight tensor's bytes lie in GPU memory: as in the GGUF file, or (Q6_K on software
//! adapters) re-encoded at upload into a layout that a CPU driver reads fast.
//!
//! Why re-encode: on SwiftShader and lavapipe a shader's arithmetic runs on the CPU, one SIMD
//! lane per invocation, and rebuilding each 6-bit Q6_K level from a low nibble and two high bits
//! costs more than the memory it saves. `ffn_down` (the one Q6_K matrix of SmolLM2-135M's Q6_K
//! file) took 30% of a decode step on SwiftShader while holding 20% of the weights. Widened to
//! one byte per level the same GEMV runs about 2× faster (see `gemv_rows_q6_k_bytes.wgsl`).
//! GPUs read the GGUF bytes: there memory bandwidth, not arithmetic, bounds a GEMV.
//!
//! [`WeightEncoding::Q6KBytes`], one 276-byte block per 256-weight Q6_K super-block (276 is a
//! multiple of 4, so every block starts word-aligned):
//! - bytes 0..256: the level q (0..64) of each weight, in weight order;
//! - bytes 256..272: the 16 signed sub-block scales, as in the GGUF block;
//! - bytes 272..276: d as an f32 (the GGUF f16, widened exactly).
//!
//! A weight is d·scales[i / 16]·(q − 32), exactly as in the GGUF block; the GPU memory is 276/210
//! of the GGUF bytes for those tensors.

use super::kernels::matmul::MatmulLayout;
use crate::gguf::GgmlType;
use crate::quant::{f16_to_f32, q6_k_levels, BlockQ6K};

/// Bytes of a Q6_K super-block in the GGUF file.
const Q6K_BLOCK: usize = 210;
/// Bytes of a super-block in [`WeightEncoding::Q6KBytes`].
pub const Q6K_BYTES_BLOCK: usize = 276;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WeightEncoding {
    /// The GGUF bytes as they are.
    Gguf,
    /// Q6_K super-blocks with one byte per weight (see the module header).
    Q6KBytes,
}

impl WeightEncoding {
    /// The encoding the kernels of `layout` read `ty` weights in.
    pub fn for_weights(ty: GgmlType, layout: MatmulLayout) -> Self {
        match (ty, layout) {
            (GgmlType::Q6K, MatmulLayout::RowPerInvocation) => Self::Q6KBytes,
            _ => Self::Gguf,
        }
    }

    /// The unit a stream of GGUF bytes is re-encoded in: (GGUF bytes, stored bytes). Writes
    /// arrive in any chunking; bytes are stored once a whole unit is in.
    pub fn unit(self) -> (usize, usize) {
        match self {
            Self::Gguf => (4, 4),
            Self::Q6KBytes => (Q6K_BLOCK, Q6K_BYTES_BLOCK),
        }
    }

    /// Stored bytes of `gguf_bytes` GGUF bytes (a whole number of units, or the tensor's end for
    /// [`Self::Gguf`]).
    pub fn stored_len(self, gguf_bytes: u64) -> u64 {
        let (from, to) = self.unit();
        gguf_bytes / from as u64 * to as u64 + gguf_bytes % from as u64
    }

    /// Re-encodes whole units of GGUF bytes.
    pub fn encode(self, gguf: &[u8]) -> Vec<u8> {
        match self {
            Self::Gguf => gguf.to_vec(),
            Self::Q6KBytes => {
                let blocks: &[BlockQ6K] = bytemuck::cast_slice(gguf);
                let mut out = Vec::with_capacity(blocks.len() * Q6K_BYTES_BLOCK);
                for b in blocks {
                    out.extend_from_slice(&q6_k_levels(b));
                    out.extend_from_slice(bytemuck::cast_slice(&b.scales));
                    let d = f16_to_f32(u16::from_le_bytes(b.d));
                    out.extend_from_slice(&d.to_le_bytes());
                }
                out
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gpu::kernels::matmul::test_util::random_weight;
    use crate::quant::dequantize_to_vec;

    /// Reads a [`WeightEncoding::Q6KBytes`] block back as the module header says.
    fn decode(block: &[u8]) -> Vec<f32> {
        let d = f32::from_le_bytes(block[272..276].try_into().unwrap());
        (0..256)
            .map(|i| {
                let sc = f32::from(block[256 + i / 16] as i8);
                d * sc * (f32::from(block[i]) - 32.0)
            })
            .collect()
    }

    #[test]
    fn q6_k_bytes_hold_the_same_weights() {
        let gguf = random_weight(GgmlType::Q6K, 7, 512, 11);
        let stored = WeightEncoding::Q6KBytes.encode(&gguf);
        assert_eq!(
            stored.len() as u64,
            WeightEncoding::Q6KBytes.stored_len(gguf.len() as u64)
        );
        let got: Vec<f32> = stored
            .chunks_exact(Q6K_BYTES_BLOCK)
            .flat_map(decode)
            .collect();
        assert_eq!(got, dequantize_to_vec(GgmlType::Q6K, &gguf).unwrap());
        assert!(stored
            .chunks_exact(Q6K_BYTES_BLOCK)
            .all(|b| b[..256].iter().all(|&q| q < 64)));
    }

    #[test]
    fn only_q6_k_on_software_adapters_is_re_encoded() {
        for ty in crate::gpu::GPU_WEIGHT_TYPES {
            assert_eq!(
                WeightEncoding::for_weights(ty, MatmulLayout::Cooperative),
                WeightEncoding::Gguf
            );
        }
        assert_eq!(
            WeightEncoding::for_weights(GgmlType::Q6K, MatmulLayout::RowPerInvocation),
            WeightEncoding::Q6KBytes
        );
        assert_eq!(
            WeightEncoding::for_weights(GgmlType::Q8_0, MatmulLayout::RowPerInvocation),
            WeightEncoding::Gguf
        );
    }
}
