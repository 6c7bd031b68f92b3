//! How a weight tensor's bytes lie in GPU memory: as in the GGUF file (GPUs), or (Q6_K and
//! Q8_0 on software adapters) re-encoded at upload into layouts that a CPU driver reads fast.
//! Every weight keeps its exact value; only the bytes move.
//!
//! Why: on SwiftShader and lavapipe a shader runs on the CPU, one SIMD lane per invocation, and
//! what costs is not what costs on a GPU (`texel_rows.wgsl`'s header): every storage-buffer read
//! whose index is not a constant is a gather (a scalar load per lane, each behind its own
//! branch), shifts are split per lane, and rebuilding Q6_K's 6-bit levels from nibbles and
//! high bits costs more than the memory it saves. GPUs read the GGUF bytes: there memory
//! bandwidth, not instructions, bounds a product.
//!
//! In storage buffers, for the layer matrices (GEMV for decode, GEMM for prefill):
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
//! A weight is d·q. 36/34 of the GGUF bytes. Both block sizes are multiples of 4, so every
//! block starts word-aligned.
//!
//! In `rgba32uint` textures, for the output head (and the token table tied to it), which only
//! GEMVs and row lookups read: texel runs ([`WeightEncoding::Q6KTexels`],
//! [`WeightEncoding::Q8_0Texels`]). A texel fetch loads a lane's 16 bytes at once, so a GEMV
//! over texel runs is faster than over a buffer (Q6_K on SwiftShader: 3.1–3.4 against 1.5
//! weights/ns natively, 2.2–2.3 against 1.2 in Chromium). A GEMM over them is not: it either
//! fetches each texel once per word or holds four tokens' x at once and spills (1.7–1.9
//! weight-tokens/ns in Chromium, against 3.3–3.6 for the buffer GEMM), so the layer matrices,
//! which prefill multiplies, stay in buffers.
//!
//! The texel-run layout. Rows go in groups of [`ROW_GROUP`] (16, the rows one invocation of a
//! texel kernel computes; the last group is padded with zero rows). A group's row span is cut
//! into runs of [`WeightEncoding::run_weights`] columns, and each run is
//! [`WeightEncoding::run_texels`] consecutive 16-byte texels:
//! - level texels: for each 16-column half (Q8_0 has two, Q6_K one), the 16 rows' 16 bytes,
//!   one per weight, as in the buffer encodings (Q6_K: q; Q8_0: q with bytes 0..2 of each word
//!   biased);
//! - 4 scale texels: the 16 rows' scales as f32 (Q6_K: d·scales[s]; Q8_0: d), texel k holding
//!   rows 4k..4k+3.
//!
//! Runs of 16 columns (one sub-block, 20 texels) for Q6_K, 32 (one block, 36 texels) for Q8_0:
//! again 320/210 and 36/34 of the GGUF bytes. A tensor's runs, group after group, fill the
//! lines of a texture (`gpu/weights.rs`), so a kernel walks a group's runs with a cursor and
//! never divides in its loop.

use super::kernels::matmul::MatmulLayout;
use crate::gguf::GgmlType;
use crate::quant::{f16_to_f32, q6_k_levels, BlockQ6K};

/// Rows per group of the texel-run layout.
pub const ROW_GROUP: u32 = 16;
/// Bytes of a texel (`rgba32uint`).
pub const TEXEL_BYTES: usize = 16;
/// Scale texels per run: 16 rows' f32 scales.
const SCALE_TEXELS: u32 = 4;
/// Bytes of a Q6_K super-block in the GGUF file.
const Q6K_BLOCK: usize = 210;
/// Bytes of a super-block in [`WeightEncoding::Q6KBytes`].
const Q6K_BYTES_BLOCK: usize = 320;
/// Bytes of a Q8_0 block in the GGUF file.
const Q8_0_BLOCK: usize = 34;
/// Bytes of a block in [`WeightEncoding::Q8_0Words`].
const Q8_0_WORDS_BLOCK: usize = 36;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WeightEncoding {
    /// The GGUF bytes as they are, in storage buffers.
    Gguf,
    /// Q6_K super-blocks with one byte per weight, in storage buffers (see the module header).
    Q6KBytes,
    /// Q8_0 blocks realigned to 9 words, in storage buffers (see the module header).
    Q8_0Words,
    /// Q6_K in texel runs of one sub-block (see the module header).
    Q6KTexels,
    /// Q8_0 in texel runs of one block (see the module header).
    Q8_0Texels,
}

impl WeightEncoding {
    /// The encoding the kernels of `layout` read `ty` weights in; `head`: the output head or
    /// the token table (read only by GEMVs and row lookups, never by a GEMM).
    pub fn for_weights(ty: GgmlType, layout: MatmulLayout, head: bool) -> Self {
        match (ty, layout, head) {
            (GgmlType::Q6K, MatmulLayout::RowPerInvocation, false) => Self::Q6KBytes,
            (GgmlType::Q8_0, MatmulLayout::RowPerInvocation, false) => Self::Q8_0Words,
            (GgmlType::Q6K, MatmulLayout::RowPerInvocation, true) => Self::Q6KTexels,
            (GgmlType::Q8_0, MatmulLayout::RowPerInvocation, true) => Self::Q8_0Texels,
            _ => Self::Gguf,
        }
    }

    /// Whether the weights live in textures (texel runs) rather than storage buffers.
    pub fn is_texels(self) -> bool {
        matches!(self, Self::Q6KTexels | Self::Q8_0Texels)
    }

    /// For the buffer encodings, the unit a stream of GGUF bytes is re-encoded in: (GGUF
    /// bytes, stored bytes). Writes arrive in any chunking; bytes are stored once a whole unit
    /// is in. (Texel runs take whole row groups.)
    pub fn unit(self) -> (usize, usize) {
        match self {
            Self::Q6KBytes => (Q6K_BLOCK, Q6K_BYTES_BLOCK),
            Self::Q8_0Words => (Q8_0_BLOCK, Q8_0_WORDS_BLOCK),
            _ => (4, 4),
        }
    }

    /// For the buffer encodings, the stored bytes of `gguf_bytes` GGUF bytes (a whole number
    /// of units, or the tensor's end for [`Self::Gguf`]).
    pub fn stored_bytes(self, gguf_bytes: u64) -> u64 {
        let (from, to) = self.unit();
        gguf_bytes / from as u64 * to as u64 + gguf_bytes % from as u64
    }

    /// For the buffer encodings, re-encodes whole units of GGUF bytes.
    pub fn encode(self, gguf: &[u8]) -> Vec<u8> {
        match self {
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
            _ => gguf.to_vec(),
        }
    }

    /// Columns of a row one texel run covers (0 for the buffer encodings).
    pub fn run_weights(self) -> u32 {
        match self {
            Self::Q6KTexels => 16,
            Self::Q8_0Texels => 32,
            _ => 0,
        }
    }

    /// Texels of one run: the level texels of 16 rows, then their scales.
    pub fn run_texels(self) -> u32 {
        self.run_weights() + SCALE_TEXELS
    }

    /// Stored bytes of a `rows × cols` tensor of `ty` (`None` when a row is not a whole number
    /// of blocks): its GGUF bytes, or its row groups' runs.
    pub fn stored_len(self, ty: GgmlType, rows: u64, cols: u64) -> Option<u64> {
        let row_bytes = ty.row_bytes(cols)?;
        Some(match self {
            Self::Gguf | Self::Q6KBytes | Self::Q8_0Words => self.stored_bytes(rows * row_bytes),
            Self::Q6KTexels | Self::Q8_0Texels => {
                let runs = cols / u64::from(self.run_weights());
                rows.div_ceil(u64::from(ROW_GROUP))
                    * runs
                    * u64::from(self.run_texels())
                    * TEXEL_BYTES as u64
            }
        })
    }

    /// Re-encodes whole GGUF rows of `cols` weights (at most [`ROW_GROUP`] rows, one group;
    /// missing rows are zeros) into the group's runs. Each weight's bytes are written straight
    /// to their place (the worker does this for every weight of a model while it loads).
    pub fn encode_group(self, gguf: &[u8], cols: u32) -> Vec<u8> {
        if !self.is_texels() {
            return gguf.to_vec();
        }
        let cols = cols as usize;
        let run = self.run_weights() as usize;
        let run_bytes = self.run_texels() as usize * TEXEL_BYTES;
        let runs = cols / run;
        let group = ROW_GROUP as usize;
        let mut out = vec![0u8; runs * run_bytes];
        // Row i's 16 level bytes of columns c..c+16 (c a multiple of 16), and its scale of
        // run r.
        let level_at = |c: usize, i: usize| (c / run) * run_bytes + ((c % run) / 16) * 256 + i * 16;
        let scale_at = |r: usize, i: usize| r * run_bytes + run * 16 + i * 4;
        match self {
            Self::Q6KTexels => {
                let row_bytes = cols / 256 * Q6K_BLOCK;
                for (i, row) in gguf.chunks_exact(row_bytes).take(group).enumerate() {
                    let blocks: &[BlockQ6K] = bytemuck::cast_slice(row);
                    for (k, b) in blocks.iter().enumerate() {
                        let levels = q6_k_levels(b);
                        let d = f16_to_f32(u16::from_le_bytes(b.d));
                        for (s, sub) in levels.chunks_exact(16).enumerate() {
                            let c = 256 * k + 16 * s;
                            let at = level_at(c, i);
                            out[at..at + 16].copy_from_slice(sub);
                            let at = scale_at(c / run, i);
                            let scale = d * f32::from(b.scales[s]);
                            out[at..at + 4].copy_from_slice(&scale.to_le_bytes());
                        }
                    }
                }
            }
            Self::Q8_0Texels => {
                let row_bytes = cols / 32 * Q8_0_BLOCK;
                for (i, row) in gguf.chunks_exact(row_bytes).take(group).enumerate() {
                    for (k, b) in row.chunks_exact(Q8_0_BLOCK).enumerate() {
                        for (h, quants) in b[2..].chunks_exact(16).enumerate() {
                            let at = level_at(32 * k + 16 * h, i);
                            let dst = &mut out[at..at + 16];
                            for (j, (o, &q)) in dst.iter_mut().zip(quants).enumerate() {
                                *o = if j % 4 == 3 { q } else { q ^ 0x80 };
                            }
                        }
                        let at = scale_at(k, i);
                        let d = f16_to_f32(u16::from_le_bytes([b[0], b[1]]));
                        out[at..at + 4].copy_from_slice(&d.to_le_bytes());
                    }
                }
            }
            _ => unreachable!("not a texel encoding"),
        }
        out
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::gpu::kernels::matmul::test_util::random_weight;
    use crate::quant::dequantize_to_vec;

    /// Reads `rows` rows of `cols` weights back from one group's runs, as the module header
    /// says.
    pub(crate) fn decode_group(
        encoding: WeightEncoding,
        runs: &[u8],
        rows: usize,
        cols: usize,
    ) -> Vec<f32> {
        let run = encoding.run_weights() as usize;
        let run_bytes = encoding.run_texels() as usize * TEXEL_BYTES;
        let mut out = vec![0.0; rows * cols];
        for (r, bytes) in runs.chunks_exact(run_bytes).enumerate() {
            let (levels, scales) = bytes.split_at(run * 16);
            for i in 0..rows {
                let scale = f32::from_le_bytes(scales[4 * i..4 * i + 4].try_into().unwrap());
                for c in 0..run {
                    let b = levels[(c / 16) * 256 + i * 16 + c % 16];
                    let q = match encoding {
                        WeightEncoding::Q6KTexels => f32::from(b) - 32.0,
                        _ if c % 4 == 3 => f32::from(b as i8),
                        _ => f32::from(b) - 128.0,
                    };
                    out[i * cols + r * run + c] = scale * q;
                }
            }
        }
        out
    }

    fn round_trip(ty: GgmlType, encoding: WeightEncoding, rows: usize, cols: usize) {
        let gguf = random_weight(ty, rows, cols, 11);
        let stored = encoding.encode_group(&gguf, cols as u32);
        let runs = cols / encoding.run_weights() as usize;
        assert_eq!(
            stored.len(),
            runs * encoding.run_texels() as usize * TEXEL_BYTES
        );
        assert_eq!(
            decode_group(encoding, &stored, rows, cols),
            dequantize_to_vec(ty, &gguf).unwrap()
        );
        if encoding == WeightEncoding::Q6KTexels {
            let run_bytes = encoding.run_texels() as usize * TEXEL_BYTES;
            assert!(stored
                .chunks_exact(run_bytes)
                .all(|run| run[..256].iter().all(|&q| q < 64)));
        }
    }

    #[test]
    fn q6_k_texels_hold_the_same_weights() {
        round_trip(GgmlType::Q6K, WeightEncoding::Q6KTexels, 16, 512);
        // A last group with fewer rows is padded with zero rows.
        round_trip(GgmlType::Q6K, WeightEncoding::Q6KTexels, 7, 256);
    }

    #[test]
    fn q8_0_texels_hold_the_same_weights() {
        round_trip(GgmlType::Q8_0, WeightEncoding::Q8_0Texels, 16, 576);
        round_trip(GgmlType::Q8_0, WeightEncoding::Q8_0Texels, 5, 64);
    }

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

    #[test]
    fn q6_k_bytes_hold_the_same_weights() {
        let gguf = random_weight(GgmlType::Q6K, 7, 512, 11);
        let stored = WeightEncoding::Q6KBytes.encode(&gguf);
        assert_eq!(
            stored.len() as u64,
            WeightEncoding::Q6KBytes.stored_bytes(gguf.len() as u64)
        );
        let got: Vec<f32> = stored
            .chunks_exact(Q6K_BYTES_BLOCK)
            .flat_map(decode_q6_k)
            .collect();
        assert_eq!(got, dequantize_to_vec(GgmlType::Q6K, &gguf).unwrap());
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
        let stored = WeightEncoding::Q8_0Words.encode(&gguf);
        assert_eq!(
            stored.len() as u64,
            WeightEncoding::Q8_0Words.stored_bytes(gguf.len() as u64)
        );
        let got: Vec<f32> = stored
            .chunks_exact(Q8_0_WORDS_BLOCK)
            .flat_map(decode_q8_0)
            .collect();
        assert_eq!(got, dequantize_to_vec(GgmlType::Q8_0, &gguf).unwrap());
    }

    #[test]
    fn only_q6_k_and_q8_0_on_software_adapters_are_re_encoded() {
        use MatmulLayout::{Cooperative, RowPerInvocation};
        for ty in crate::gpu::GPU_WEIGHT_TYPES {
            for head in [false, true] {
                assert_eq!(
                    WeightEncoding::for_weights(ty, Cooperative, head),
                    WeightEncoding::Gguf
                );
            }
        }
        for (ty, head, encoding) in [
            (GgmlType::Q6K, false, WeightEncoding::Q6KBytes),
            (GgmlType::Q8_0, false, WeightEncoding::Q8_0Words),
            (GgmlType::Q6K, true, WeightEncoding::Q6KTexels),
            (GgmlType::Q8_0, true, WeightEncoding::Q8_0Texels),
            (GgmlType::Q4K, false, WeightEncoding::Gguf),
            (GgmlType::Q4K, true, WeightEncoding::Gguf),
        ] {
            assert_eq!(
                WeightEncoding::for_weights(ty, RowPerInvocation, head),
                encoding
            );
        }
    }
}
