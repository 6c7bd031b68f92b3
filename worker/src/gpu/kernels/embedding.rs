//! Token embedding lookup from a quantized table: `out[i, :]` = dequantized row `ids[i]` of
//! `token_embd` (rows = vocabulary), for a prompt's tokens or one decode token. Works across the
//! table's split parts (Llama 3's 128256 × 2048 Q6_K table is 215 MB, above lavapipe's 128 MB
//! binding): one dispatch per part, each writing the tokens whose rows it holds.

use super::matmul::{weight_pipeline, Dispatches, KernelError};
use super::params::in_pass;
use crate::gguf::GgmlType;
use crate::gpu::{GpuWeight, WeightEncoding};
use crate::quant::{dequantize_to_vec, QuantError};

const SKELETON: &str = include_str!("embedding.wgsl");

/// The lookup pipeline for one table type and encoding.
pub struct Embedding {
    ty: GgmlType,
    encoding: WeightEncoding,
    pipeline: wgpu::ComputePipeline,
}

/// One lookup with its bind groups made: record it any number of times (the ids buffer's
/// contents may change between submissions).
#[derive(Debug, Clone)]
pub struct PreparedEmbedding(Dispatches);

impl PreparedEmbedding {
    pub fn encode(&self, pass: &mut wgpu::ComputePass<'_>) {
        self.0.encode(pass);
    }
}

impl Embedding {
    pub fn new(
        device: &wgpu::Device,
        ty: GgmlType,
        encoding: WeightEncoding,
    ) -> Result<Self, KernelError> {
        Ok(Self {
            ty,
            encoding,
            pipeline: weight_pipeline(device, "embedding", SKELETON, ty, encoding, 1)?,
        })
    }

    /// Binds the table, `ids` (≥ `n_tokens` u32, each < `table.rows()`; ids past the end
    /// leave their output row untouched) and `out` (≥ `n_tokens × cols` f32).
    pub fn prepare(
        &self,
        device: &wgpu::Device,
        limits: &wgpu::Limits,
        table: &GpuWeight,
        ids: &wgpu::Buffer,
        out: &wgpu::Buffer,
        n_tokens: u32,
    ) -> PreparedEmbedding {
        assert_eq!(
            table.ty(),
            self.ty,
            "{}: embedding pipeline type",
            table.name()
        );
        assert_eq!(
            table.encoding(),
            self.encoding,
            "{}: embedding encoding",
            table.name()
        );
        debug_assert!(ids.size() >= 4 * n_tokens as u64);
        debug_assert!(out.size() >= 4 * n_tokens as u64 * table.cols() as u64);
        PreparedEmbedding(Dispatches::over_parts(
            device,
            limits,
            &self.pipeline,
            "embedding params",
            table,
            ids,
            out,
            &[],
            |part| {
                (
                    vec![n_tokens, table.cols(), part.first_row, part.rows],
                    n_tokens,
                )
            },
        ))
    }

    /// Prepares and records in one go, in a compute pass of its own.
    #[allow(clippy::too_many_arguments)]
    pub fn encode(
        &self,
        device: &wgpu::Device,
        limits: &wgpu::Limits,
        encoder: &mut wgpu::CommandEncoder,
        table: &GpuWeight,
        ids: &wgpu::Buffer,
        out: &wgpu::Buffer,
        n_tokens: u32,
    ) {
        let prepared = self.prepare(device, limits, table, ids, out, n_tokens);
        in_pass(encoder, "embedding", |pass| prepared.encode(pass));
    }
}

/// The CPU twin: the dequantized rows `ids` of a `rows × cols` table of `ty`, concatenated.
pub fn embedding_cpu(
    ty: GgmlType,
    table: &[u8],
    cols: usize,
    ids: &[u32],
) -> Result<Vec<f32>, QuantError> {
    let row_bytes = ty
        .row_bytes(cols as u64)
        .expect("a row is a whole number of blocks") as usize;
    let mut out = Vec::with_capacity(ids.len() * cols);
    for &id in ids {
        let start = id as usize * row_bytes;
        out.extend(dequantize_to_vec(ty, &table[start..start + row_bytes])?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gpu::kernels::matmul::test_util::*;
    use crate::gpu::kernels::matmul::MatmulLayout;
    use crate::gpu::test_support::gpu;

    /// Looks `ids` up in a random table stored in each layout's encoding; returns the most
    /// parts a table had.
    fn check(
        ty: GgmlType,
        rows: u32,
        cols: u32,
        ids: &[u32],
        max_part: u64,
        max_per_dim: u32,
    ) -> usize {
        let gpu = gpu();
        let bytes = random_weight(ty, rows as usize, cols as usize, 7);
        let want = embedding_cpu(ty, &bytes, cols as usize, ids).unwrap();
        let mut parts = 0;
        for layout in MatmulLayout::ALL {
            let w = upload(ty, layout, rows, cols, &bytes, max_part);
            parts = parts.max(w.parts().len());
            let ids_buf = storage_u32(ids);
            let out = output_buffer(ids.len() * cols as usize);
            let kernel = Embedding::new(&gpu.device, ty, w.encoding()).unwrap();
            let limits = limits_with(max_per_dim);
            let mut encoder = gpu.device.create_command_encoder(&Default::default());
            kernel.encode(
                &gpu.device,
                &limits,
                &mut encoder,
                &w,
                &ids_buf,
                &out,
                ids.len() as u32,
            );
            gpu.queue.submit([encoder.finish()]);
            let got = read_f32(&out, ids.len() * cols as usize);
            // Dequantization is the same f32 arithmetic as the CPU's, up to one rounding of
            // d·sc.
            for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                assert!(
                    (g - w).abs() <= 1e-6 * w.abs().max(1e-3),
                    "{ty} {layout:?} {rows}x{cols} element {i}: gpu {g} cpu {w}"
                );
            }
        }
        parts
    }

    #[test]
    fn every_type_looks_up_rows_in_a_split_table() {
        for ty in crate::gpu::GPU_WEIGHT_TYPES {
            let cols = if ty == GgmlType::F32 { 64 } else { 256 };
            let row_bytes = ty.row_bytes(cols).unwrap();
            // Splits come in groups of `step` rows (256-byte multiples); make 3+ parts.
            let step = 256 / gcd(row_bytes, 256);
            let rows = (3 * step + 5).max(100);
            let max_part = row_bytes * step * (rows / 3 / step).max(1);
            let last = rows as u32 - 1;
            let ids = [0, 1, last, 37, 64, last - 1, 1, 50, 99];
            let parts = check(ty, rows as u32, cols as u32, &ids, max_part, 65535);
            assert!(parts >= 3, "{ty}: {parts} parts");
        }
    }

    fn gcd(a: u64, b: u64) -> u64 {
        if b == 0 {
            a
        } else {
            gcd(b, a % b)
        }
    }

    #[test]
    fn many_tokens_over_a_two_dimensional_grid() {
        let ids: Vec<u32> = (0..300).map(|i| (i * 7919) % 1000).collect();
        check(GgmlType::Q6K, 1000, 256, &ids, 64 * 1024, 16);
    }
}
