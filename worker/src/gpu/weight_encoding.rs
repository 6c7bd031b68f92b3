//! How a weight tensor's bytes lie in GPU memory: as in the GGUF file (GPUs), or (Q6_K and
//! Q8_0 on software adapters) re-encoded at upload into texel runs that a CPU driver reads fast.
//!
//! Why: on SwiftShader and lavapipe a shader runs on the CPU, one SIMD lane per invocation.
//! There every storage-buffer read whose index is not a constant is a gather: one scalar load
//! per lane, each behind its own branch, 4 bytes per lane at a time. A texture's texel fetch
//! instead loads a lane's 16-byte texel in one vector load. So the weights of the typed
//! software kernels live in `rgba32uint` textures, and a GEMV that reads them runs about twice
//! as fast on SwiftShader as the same arithmetic on a storage buffer (Q6_K 1.5 → 3.1–3.4
//! weights/ns). GPUs read the GGUF bytes from storage buffers: there memory bandwidth, not
//! load instructions, bounds a GEMV. Every weight keeps its exact value; only the bytes move.
//!
//! The texel-run layout. Rows go in groups of [`ROW_GROUP`] (16, the rows one invocation of a
//! typed kernel computes; the last group is padded with zero rows). A group's row span is cut
//! into runs of [`WeightEncoding::run_weights`] columns, and each run is
//! [`WeightEncoding::run_texels`] consecutive 16-byte texels:
//! - level texels: for each 16-column half (Q8_0 has two, Q6_K one), the 16 rows' 16 bytes;
//! - 4 scale texels: the 16 rows' scales as f32, texel k holding rows 4k..4k+3.
//!
//! Q6_K ([`WeightEncoding::Q6KTexels`], runs of 16 columns = one sub-block, 20 texels): a level
//! byte is q (0..64), the scale d·scales[s] (exact in f32: an f16 times an i8 needs 19
//! significant bits); a weight is scale·(q − 32). 320/210 of the GGUF bytes.
//!
//! Q8_0 ([`WeightEncoding::Q8_0Texels`], runs of 32 columns = one block, 36 texels): a level
//! byte is the quant q with bytes 0..2 of each word biased to q + 128 (unsigned) and byte 3
//! left signed, so that a word masked to one byte converts to f32 directly (`byte_lanes.wgsl`);
//! the scale is d. A weight is d·q. 36/34 of the GGUF bytes.
//!
//! A tensor's runs, group after group, fill the lines of a texture (`gpu/weights.rs`), so a
//! kernel walks a group's runs with a cursor and never divides in its loop.

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
/// Bytes of a Q8_0 block in the GGUF file.
const Q8_0_BLOCK: usize = 34;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WeightEncoding {
    /// The GGUF bytes as they are, in storage buffers.
    Gguf,
    /// Q6_K in texel runs of one sub-block (see the module header).
    Q6KTexels,
    /// Q8_0 in texel runs of one block (see the module header).
    Q8_0Texels,
}

impl WeightEncoding {
    /// The encoding the kernels of `layout` read `ty` weights in.
    pub fn for_weights(ty: GgmlType, layout: MatmulLayout) -> Self {
        match (ty, layout) {
            (GgmlType::Q6K, MatmulLayout::RowPerInvocation) => Self::Q6KTexels,
            (GgmlType::Q8_0, MatmulLayout::RowPerInvocation) => Self::Q8_0Texels,
            _ => Self::Gguf,
        }
    }

    /// Whether the weights live in textures (texel runs) rather than storage buffers.
    pub fn is_texels(self) -> bool {
        self != Self::Gguf
    }

    /// Columns of a row one run covers (0 for [`Self::Gguf`]).
    pub fn run_weights(self) -> u32 {
        match self {
            Self::Gguf => 0,
            Self::Q6KTexels => 16,
            Self::Q8_0Texels => 32,
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
            Self::Gguf => rows * row_bytes,
            _ => {
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
        if self == Self::Gguf {
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
            Self::Gguf => unreachable!(),
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

    #[test]
    fn only_q6_k_and_q8_0_on_software_adapters_are_re_encoded() {
        for ty in crate::gpu::GPU_WEIGHT_TYPES {
            assert_eq!(
                WeightEncoding::for_weights(ty, MatmulLayout::Cooperative),
                WeightEncoding::Gguf
            );
        }
        assert_eq!(
            WeightEncoding::for_weights(GgmlType::Q6K, MatmulLayout::RowPerInvocation),
            WeightEncoding::Q6KTexels
        );
        assert_eq!(
            WeightEncoding::for_weights(GgmlType::Q8_0, MatmulLayout::RowPerInvocation),
            WeightEncoding::Q8_0Texels
        );
        assert_eq!(
            WeightEncoding::for_weights(GgmlType::Q4K, MatmulLayout::RowPerInvocation),
            WeightEncoding::Gguf
        );
    }
}
