//! How a weight tensor's bytes lie in GPU memory: as in the GGUF file, or re-encoded at upload:
//! Q6_K and Q8_0 on software adapters into a layout that a CPU driver reads fast, Q6_K on GPUs
//! into one whose every read is a whole aligned word.
//!
//! Why re-encode: on SwiftShader and lavapipe a shader runs on the CPU, one SIMD lane per
//! invocation, and what costs is not what costs on a GPU (`gemv_rows_q8_0_words.wgsl`'s header):
//! - Rebuilding each 6-bit Q6_K level from a low nibble and two high bits costs more than the
//!   memory it saves. `ffn_down` (the one Q6_K matrix of SmolLM2-135M's Q6_K file) took 30% of a
//!   decode step on SwiftShader while holding 20% of the weights; widened to one byte per level,
//!   with each sub-block's scale ready as an f32, the same GEMV runs about 2.5× faster.
//! - Q8_0's 34-byte blocks start at every other half-word; realigning them in the shader took
//!   the registers that a GEMV reading 16 rows at once needs (16 rows instead of 8 halve the x
//!   reads, which are gathers there too: 1.6 → 1.9 weights/ns on SwiftShader).
//!
//! GPUs read the GGUF bytes of every type but Q6_K. Every weight keeps its exact value; only the
//! bytes move.
//!
//! [`WeightEncoding::Q6KBytes`], one 320-byte block per 256-weight Q6_K super-block:
//! - bytes 0..256: the level q (0..64) of each weight, in weight order;
//! - bytes 256..320: the 16 sub-block scales d·scales[s] as f32 (exact: an f16 times an i8
//!   needs 19 significant bits).
//!
//! A weight is (d·scales[i / 16])·(q − 32), the same f32 product the GGUF block gives. 320/210 of
//! the GGUF bytes.
//!
//! [`WeightEncoding::Q8_0Words`], one 36-byte block per 32-weight Q8_0 block:
//! - bytes 0..32: the signed quants q in weight order, with bytes 0..2 of each word biased to
//!   q + 128 (unsigned) and byte 3 left signed (so a word masked to one byte converts to f32
//!   directly; see `byte_lanes.wgsl`);
//! - bytes 32..36: d as an f32.
//!
//! A weight is d·q. 36/34 of the GGUF bytes.
//!
//! Both block sizes are multiples of 4, so every block starts word-aligned. Tensors in either
//! layout are stored as row quads in textures (`gpu/weights.rs`), where a kernel reads a word of
//! 4 rows with one texel fetch.
//!
//! [`WeightEncoding::Q6KLanes`] (GPUs), one 212-byte block (53 words) per Q6_K super-block, the
//! GGUF bytes reordered for the 16 lanes that read a block in `gemv_q6_k_lanes.wgsl`:
//! - words 3i, 3i + 1, 3i + 2 (lane i = 8h + m, h < 2, m < 8): the ql words at bytes
//!   64h + 4m and 64h + 32 + 4m, and the qh word at byte 128 + 32h + 4m, of the GGUF block;
//! - word 48 + 2h + j (j < 2): scales[8h + j + 2k] in byte k (the four a lane of half h needs);
//! - word 52: d (f16) in the low half, zero in the high half.
//!
//! In the GGUF encoding a 210-byte block starts at every other half-word, so half a row's
//! blocks need each word put together from two; and a lane's 4 scales take 4 reads. On an H200
//! the 16384×2048 Q6_K GEMV of a Llama-3.2-1B layer took 26 µs in this layout (20–21 with the
//! subgroup team sum) where it took 29–31 µs reading the GGUF bytes (the same run, each
//! dispatch's fixed cost included). 212/210 of the GGUF bytes.

use super::kernels::matmul::MatmulLayout;
use crate::gguf::GgmlType;
use crate::quant::{f16_to_f32, q6_k_levels, BlockQ6K};

/// Bytes of a Q6_K super-block in the GGUF file.
const Q6K_BLOCK: usize = 210;
/// Bytes of a super-block in [`WeightEncoding::Q6KBytes`].
const Q6K_BYTES_BLOCK: usize = 320;
/// Bytes of a super-block in [`WeightEncoding::Q6KLanes`].
const Q6K_LANES_BLOCK: usize = 212;
/// Bytes of a Q8_0 block in the GGUF file.
const Q8_0_BLOCK: usize = 34;
/// Bytes of a block in [`WeightEncoding::Q8_0Words`].
const Q8_0_WORDS_BLOCK: usize = 36;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WeightEncoding {
    /// The GGUF bytes as they are.
    Gguf,
    /// Q6_K super-blocks with one byte per weight (see the module header).
    Q6KBytes,
    /// Q8_0 blocks realigned to 9 words (see the module header).
    Q8_0Words,
    /// Q6_K super-blocks as 53 words in the order GPU lanes read them (see the module header).
    Q6KLanes,
}

impl WeightEncoding {
    /// The encoding the kernels of `layout` read `ty` weights in.
    pub fn for_weights(ty: GgmlType, layout: MatmulLayout) -> Self {
        match (ty, layout) {
            (GgmlType::Q6K, MatmulLayout::RowPerInvocation) => Self::Q6KBytes,
            (GgmlType::Q8_0, MatmulLayout::RowPerInvocation) => Self::Q8_0Words,
            (GgmlType::Q6K, MatmulLayout::Cooperative) => Self::Q6KLanes,
            _ => Self::Gguf,
        }
    }

    /// Whether tensors in this encoding are stored as row quads in textures (see
    /// `gpu/weights.rs`): the software adapters' encodings are.
    pub fn is_row_quads(self) -> bool {
        matches!(self, Self::Q6KBytes | Self::Q8_0Words)
    }

    /// The unit a stream of GGUF bytes is re-encoded in: (GGUF bytes, stored bytes). Writes
    /// arrive in any chunking; bytes are stored once a whole unit is in.
    pub fn unit(self) -> (usize, usize) {
        match self {
            Self::Gguf => (4, 4),
            Self::Q6KBytes => (Q6K_BLOCK, Q6K_BYTES_BLOCK),
            Self::Q8_0Words => (Q8_0_BLOCK, Q8_0_WORDS_BLOCK),
            Self::Q6KLanes => (Q6K_BLOCK, Q6K_LANES_BLOCK),
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
                    let d = f16_to_f32(u16::from_le_bytes(b.d));
                    for &sc in &b.scales {
                        out.extend_from_slice(&(d * f32::from(sc)).to_le_bytes());
                    }
                }
                out
            }
            Self::Q8_0Words => {
                let mut out = Vec::with_capacity(gguf.len() / Q8_0_BLOCK * Q8_0_WORDS_BLOCK);
                for block in gguf.chunks_exact(Q8_0_BLOCK) {
                    let (d, q) = block.split_at(2);
                    for word in q.chunks_exact(4) {
                        out.extend_from_slice(&[word[0] ^ 0x80, word[1] ^ 0x80, word[2] ^ 0x80]);
                        out.push(word[3]);
                    }
                    let d = f16_to_f32(u16::from_le_bytes([d[0], d[1]]));
                    out.extend_from_slice(&d.to_le_bytes());
                }
                out
            }
            Self::Q6KLanes => {
                let blocks: &[BlockQ6K] = bytemuck::cast_slice(gguf);
                let mut out = Vec::with_capacity(blocks.len() * Q6K_LANES_BLOCK);
                for b in blocks {
                    for lane in 0..16 {
                        let (h, m) = (lane / 8, lane % 8);
                        let ql = 64 * h + 4 * m;
                        let qh = 32 * h + 4 * m;
                        out.extend_from_slice(&b.ql[ql..ql + 4]);
                        out.extend_from_slice(&b.ql[ql + 32..ql + 36]);
                        out.extend_from_slice(&b.qh[qh..qh + 4]);
                    }
                    for group in 0..4 {
                        let first = 8 * (group / 2) + group % 2;
                        out.extend((0..4).map(|k| b.scales[first + 2 * k] as u8));
                    }
                    out.extend_from_slice(&b.d);
                    out.extend_from_slice(&[0, 0]);
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
    fn decode_q6_k(block: &[u8]) -> Vec<f32> {
        (0..256)
            .map(|i| {
                let at = 256 + 4 * (i / 16);
                let scale = f32::from_le_bytes(block[at..at + 4].try_into().unwrap());
                scale * (f32::from(block[i]) - 32.0)
            })
            .collect()
    }

    /// Encodes `gguf` (`ty` weights) in `encoding`, checks its length and that `decode` reads
    /// each stored block back to the weights the GGUF bytes hold; returns the stored bytes.
    fn assert_same_weights(
        encoding: WeightEncoding,
        ty: GgmlType,
        gguf: &[u8],
        decode: fn(&[u8]) -> Vec<f32>,
    ) -> Vec<u8> {
        let stored = encoding.encode(gguf);
        assert_eq!(stored.len() as u64, encoding.stored_len(gguf.len() as u64));
        let got: Vec<f32> = stored
            .chunks_exact(encoding.unit().1)
            .flat_map(decode)
            .collect();
        assert_eq!(got, dequantize_to_vec(ty, gguf).unwrap(), "{encoding:?}");
        stored
    }

    #[test]
    fn q6_k_bytes_hold_the_same_weights() {
        let gguf = random_weight(GgmlType::Q6K, 7, 512, 11);
        let stored =
            assert_same_weights(WeightEncoding::Q6KBytes, GgmlType::Q6K, &gguf, decode_q6_k);
        assert!(stored
            .chunks_exact(Q6K_BYTES_BLOCK)
            .all(|b| b[..256].iter().all(|&q| q < 64)));
    }

    /// Reads a [`WeightEncoding::Q8_0Words`] block back as the module header says.
    fn decode_q8_0(block: &[u8]) -> Vec<f32> {
        let d = f32::from_le_bytes(block[32..36].try_into().unwrap());
        (0..32)
            .map(|i| {
                let q = if i % 4 == 3 {
                    f32::from(block[i] as i8)
                } else {
                    f32::from(block[i]) - 128.0
                };
                d * q
            })
            .collect()
    }

    #[test]
    fn q8_0_words_hold_the_same_weights() {
        let gguf = random_weight(GgmlType::Q8_0, 5, 576, 12);
        assert_same_weights(
            WeightEncoding::Q8_0Words,
            GgmlType::Q8_0,
            &gguf,
            decode_q8_0,
        );
    }

    /// Reads weight `w` of a [`WeightEncoding::Q6KLanes`] block back as the module header
    /// says, from the GGUF layout's rule (ggml-common.h's block_q6_K): weight 128h + 32k + l
    /// takes nibble k / 2 of ql[64h + 32(k % 2) + l], bits 2k, 2k + 1 of qh[32h + l] and
    /// scales[8h + l / 16 + 2k].
    fn decode_q6_k_lanes(block: &[u8]) -> Vec<f32> {
        let d = f16_to_f32(u16::from_le_bytes([block[208], block[209]]));
        (0..256)
            .map(|w| {
                let (h, k, l) = (w / 128, w % 128 / 32, w % 32);
                let lane = 8 * h + l / 4;
                let ql = block[4 * (3 * lane + k % 2) + l % 4];
                let qh = block[4 * (3 * lane + 2) + l % 4];
                let q = ((ql >> (4 * (k / 2))) & 0xF) | (((qh >> (2 * k)) & 3) << 4);
                let scale = block[192 + 4 * (2 * h + l / 16) + k] as i8;
                d * f32::from(scale) * (f32::from(q) - 32.0)
            })
            .collect()
    }

    #[test]
    fn q6_k_lanes_hold_the_same_weights() {
        let gguf = random_weight(GgmlType::Q6K, 3, 1024, 13);
        let stored = assert_same_weights(
            WeightEncoding::Q6KLanes,
            GgmlType::Q6K,
            &gguf,
            decode_q6_k_lanes,
        );
        assert!(stored
            .chunks_exact(Q6K_LANES_BLOCK)
            .all(|b| b[210..] == [0, 0]));
    }

    #[test]
    fn q6_k_on_every_adapter_and_q8_0_on_software_ones_are_re_encoded() {
        for ty in crate::gpu::GPU_WEIGHT_TYPES {
            let want = match ty {
                GgmlType::Q6K => WeightEncoding::Q6KLanes,
                _ => WeightEncoding::Gguf,
            };
            assert_eq!(
                WeightEncoding::for_weights(ty, MatmulLayout::Cooperative),
                want
            );
        }
        assert!(!WeightEncoding::Q6KLanes.is_row_quads());
        assert_eq!(
            WeightEncoding::for_weights(GgmlType::Q6K, MatmulLayout::RowPerInvocation),
            WeightEncoding::Q6KBytes
        );
        assert_eq!(
            WeightEncoding::for_weights(GgmlType::Q8_0, MatmulLayout::RowPerInvocation),
            WeightEncoding::Q8_0Words
        );
        assert_eq!(
            WeightEncoding::for_weights(GgmlType::Q4K, MatmulLayout::RowPerInvocation),
            WeightEncoding::Gguf
        );
    }
}
