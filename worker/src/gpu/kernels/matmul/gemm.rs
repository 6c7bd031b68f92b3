//! GEMM for prefill: `Y = X·Wᵀ` (X is `n_tokens × cols`, Y is `n_tokens × rows`, row-major),
//! with `W` in its GGUF encoding.

use super::{
    spare_outputs, weight_pipeline, Dispatches, KernelError, MatmulLayout, MatmulPipeline,
    StackedOutputs, TypedKernel, MATMUL_OUTPUTS,
};
use crate::gguf::GgmlType;
use crate::gpu::kernels::params::in_pass;
use crate::gpu::{GpuWeight, WeightEncoding};
use crate::quant::{dequantize_to_vec, QuantError};

fn skeleton(layout: MatmulLayout) -> &'static str {
    match layout {
        MatmulLayout::Cooperative => {
            concat!(include_str!("gemm_io.wgsl"), include_str!("gemm.wgsl"))
        }
        MatmulLayout::RowPerInvocation => {
            concat!(include_str!("gemm_io.wgsl"), include_str!("gemm_rows.wgsl"))
        }
    }
}

/// Must match `TT` and `TR` in gemm.wgsl and gemm_rows.wgsl (both layouts tile the grid alike).
const TOKENS_PER_TILE: u32 = 8;
const ROWS_PER_TILE: u32 = 64;

fn typed_kernel(ty: GgmlType, layout: MatmulLayout) -> Option<TypedKernel> {
    if layout != MatmulLayout::RowPerInvocation {
        return None;
    }
    match ty {
        // Reads WeightEncoding::Q8_0Words.
        GgmlType::Q8_0 => Some(TypedKernel {
            source: concat!(
                include_str!("gemm_io.wgsl"),
                include_str!("row_quads.wgsl"),
                include_str!("byte_lanes.wgsl"),
                include_str!("gemm_tokens.wgsl"),
                include_str!("gemm_rows_q8_0_words.wgsl")
            ),
            rows_per_workgroup: 8 * 16,
            tokens_per_workgroup: 4,
            row_quads: true,
        }),
        // Reads WeightEncoding::Q6KBytes.
        GgmlType::Q6K => Some(TypedKernel {
            source: concat!(
                include_str!("gemm_io.wgsl"),
                include_str!("row_quads.wgsl"),
                include_str!("byte_lanes.wgsl"),
                include_str!("gemm_tokens.wgsl"),
                include_str!("gemm_rows_q6_k_bytes.wgsl")
            ),
            rows_per_workgroup: 8 * 16,
            tokens_per_workgroup: 4,
            row_quads: true,
        }),
        _ => None,
    }
}

/// The GEMM pipeline for one weight type.
pub struct Gemm {
    ty: GgmlType,
    encoding: WeightEncoding,
    kernel: MatmulPipeline,
    /// Bound as the outputs a single matrix does not have.
    spare: [wgpu::Buffer; 2],
}

/// One GEMM with its bind groups made: record it any number of times with [`Self::encode`].
#[derive(Debug, Clone)]
pub struct PreparedGemm(Dispatches);

impl PreparedGemm {
    pub fn encode(&self, pass: &mut wgpu::ComputePass<'_>) {
        self.0.encode(pass);
    }
}

impl Gemm {
    pub fn new(
        device: &wgpu::Device,
        ty: GgmlType,
        layout: MatmulLayout,
    ) -> Result<Self, KernelError> {
        let encoding = WeightEncoding::for_weights(ty, layout);
        let generic = || {
            Ok(MatmulPipeline {
                pipeline: weight_pipeline(
                    device,
                    "gemm",
                    skeleton(layout),
                    ty,
                    encoding,
                    MATMUL_OUTPUTS,
                )?,
                rows_per_workgroup: ROWS_PER_TILE,
                tokens_per_workgroup: TOKENS_PER_TILE,
            })
        };
        Ok(Self {
            ty,
            encoding,
            kernel: MatmulPipeline::choose(device, "gemm", ty, layout, typed_kernel, "", generic)?,
            spare: spare_outputs(device),
        })
    }

    pub fn ty(&self) -> GgmlType {
        self.ty
    }

    /// Binds `w`, `x` (≥ `n_tokens × cols` f32) and `y` (≥ `n_tokens × rows` f32) once.
    /// `accumulate` adds to `y` (fused residual add) instead of overwriting it.
    #[allow(clippy::too_many_arguments)]
    pub fn prepare(
        &self,
        device: &wgpu::Device,
        limits: &wgpu::Limits,
        w: &GpuWeight,
        x: &wgpu::Buffer,
        y: &wgpu::Buffer,
        n_tokens: u32,
        accumulate: bool,
    ) -> PreparedGemm {
        let outputs = StackedOutputs::single(y, w.rows());
        self.prepare_stacked(device, limits, w, x, &outputs, n_tokens, accumulate)
    }

    /// [`Self::prepare`] for a stack of matrices in one tensor (engine/weights.rs): each
    /// member's rows go to its own buffer, `n_tokens × member rows` row-major.
    #[allow(clippy::too_many_arguments)]
    pub fn prepare_stacked(
        &self,
        device: &wgpu::Device,
        limits: &wgpu::Limits,
        w: &GpuWeight,
        x: &wgpu::Buffer,
        outputs: &StackedOutputs<'_>,
        n_tokens: u32,
        accumulate: bool,
    ) -> PreparedGemm {
        assert_eq!(w.ty(), self.ty, "{}: GEMM pipeline type", w.name());
        assert_eq!(w.encoding(), self.encoding, "{}: GEMM encoding", w.name());
        let (splits, buffers) = outputs.bind(w, &self.spare);
        debug_assert!(x.size() >= 4 * n_tokens as u64 * w.cols() as u64);
        debug_assert!(buffers[0].size() >= 4 * n_tokens as u64 * splits[0] as u64);
        let k = &self.kernel;
        let (pipeline, rows_per_tile, tokens_per_tile) =
            (&k.pipeline, k.rows_per_workgroup, k.tokens_per_workgroup);
        let token_tiles = n_tokens.div_ceil(tokens_per_tile);
        PreparedGemm(Dispatches::over_parts(
            device,
            limits,
            pipeline,
            "gemm params",
            w,
            x,
            buffers[0],
            &buffers[1..],
            |part| {
                let row_tiles = part.rows.div_ceil(rows_per_tile);
                let params = vec![
                    part.rows,
                    w.cols(),
                    part.first_row,
                    accumulate as u32,
                    n_tokens,
                    w.rows(),
                    row_tiles,
                    splits[0],
                    splits[1],
                    0,
                    0,
                    0,
                ];
                (params, row_tiles * token_tiles)
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
        w: &GpuWeight,
        x: &wgpu::Buffer,
        y: &wgpu::Buffer,
        n_tokens: u32,
        accumulate: bool,
    ) {
        let prepared = self.prepare(device, limits, w, x, y, n_tokens, accumulate);
        in_pass(encoder, "gemm", |pass| prepared.encode(pass));
    }
}

/// The CPU twin: `Y[t, r] = Σ_k X[t, k]·W[r, k]` over dequantized `W` in f32.
pub fn gemm_cpu(
    ty: GgmlType,
    w: &[u8],
    rows: usize,
    cols: usize,
    x: &[f32],
    n_tokens: usize,
) -> Result<Vec<f32>, QuantError> {
    let w = dequantize_to_vec(ty, w)?;
    assert_eq!(w.len(), rows * cols);
    let mut y = Vec::with_capacity(n_tokens * rows);
    for xt in x.chunks_exact(cols).take(n_tokens) {
        y.extend(
            w.chunks_exact(cols)
                .map(|row| row.iter().zip(xt).map(|(a, b)| a * b).sum::<f32>()),
        );
    }
    Ok(y)
}

#[cfg(test)]
mod tests {
    use super::super::test_util::*;
    use super::super::StackedOutputs;
    use super::*;
    use crate::gpu::test_support::gpu;
    use crate::gpu::GPU_WEIGHT_TYPES;

    #[allow(clippy::too_many_arguments)]
    fn check(
        ty: GgmlType,
        rows: u32,
        cols: u32,
        n_tokens: u32,
        max_part: u64,
        max_per_dim: u32,
        accumulate: bool,
    ) -> usize {
        let gpu = gpu();
        let (r, c, n) = (rows as usize, cols as usize, n_tokens as usize);
        let bytes = random_weight(ty, r, c, (r * 17 + c) as u64);
        let max_part = max_part.min(crate::gpu::max_part_bytes(&gpu.limits));
        let x = random_f32(n * c, 8);
        let y0 = random_f32(n * r, 9);
        let xb = storage_f32(&x);
        let mut want = gemm_cpu(ty, &bytes, r, c, &x, n).unwrap();
        let mut scale: Vec<f32> = x
            .chunks_exact(c)
            .flat_map(|xt| abs_dots(ty, &bytes, c, xt))
            .collect();
        if accumulate {
            for ((w, s), y) in want.iter_mut().zip(&mut scale).zip(&y0) {
                *w += y;
                *s += y.abs();
            }
        }
        let mut parts = 0;
        for layout in MatmulLayout::ALL {
            let w = upload(ty, layout, rows, cols, &bytes, max_part);
            parts = parts.max(w.parts().len());
            let yb = storage_f32(&y0);
            let kernel = Gemm::new(&gpu.device, ty, layout).unwrap();
            let mut encoder = gpu.device.create_command_encoder(&Default::default());
            let limits = limits_with(max_per_dim);
            kernel.encode(
                &gpu.device,
                &limits,
                &mut encoder,
                &w,
                &xb,
                &yb,
                n_tokens,
                accumulate,
            );
            gpu.queue.submit([encoder.finish()]);
            let got = read_f32(&yb, n * r);
            let what = format!(
                "{layout:?} {ty} {rows}x{cols}, {n_tokens} tokens, {} parts",
                w.parts().len()
            );
            assert_dots_close(&what, &got, &want, &scale);
        }
        parts
    }

    /// Stacked matrices (gate and up as one tensor) write each member's rows to its own
    /// buffer, token by token, in every layout, across parts that split members.
    #[test]
    fn stacked_matrices_write_each_members_rows_to_its_buffer() {
        let gpu = gpu();
        let n = 5usize;
        for (ty, members, cols, max_part) in [
            (GgmlType::Q8_0, vec![40u32, 24, 32], 576u32, 48 * 1024u64),
            (GgmlType::Q6K, vec![72, 40], 512, 32 * 1024),
            (GgmlType::F32, vec![12, 8], 256, u64::MAX),
        ] {
            let c = cols as usize;
            let weights = random_members(ty, &members, c, 80);
            let rows: u32 = members.iter().sum();
            let x = random_f32(n * c, 12);
            let xb = storage_f32(&x);
            for layout in MatmulLayout::ALL {
                let max_part = max_part.min(crate::gpu::max_part_bytes(&gpu.limits));
                let w = upload(ty, layout, rows, cols, &weights.concat(), max_part);
                let outputs = member_outputs(&members, n);
                let pairs: Vec<(&wgpu::Buffer, u32)> =
                    outputs.iter().zip(members.iter().copied()).collect();
                let kernel = Gemm::new(&gpu.device, ty, layout).unwrap();
                let prepared = kernel.prepare_stacked(
                    &gpu.device,
                    &gpu.limits,
                    &w,
                    &xb,
                    &StackedOutputs::new(&pairs),
                    n as u32,
                    false,
                );
                let mut encoder = gpu.device.create_command_encoder(&Default::default());
                in_pass(&mut encoder, "stacked", |pass| prepared.encode(pass));
                gpu.queue.submit([encoder.finish()]);
                for (i, ((bytes, &r), out)) in
                    weights.iter().zip(&members).zip(&outputs).enumerate()
                {
                    let r = r as usize;
                    let want = gemm_cpu(ty, bytes, r, c, &x, n).unwrap();
                    let scale: Vec<f32> = x
                        .chunks_exact(c)
                        .flat_map(|xt| abs_dots(ty, bytes, c, xt))
                        .collect();
                    let got = read_f32(out, n * r);
                    let what = format!(
                        "{layout:?} {ty} member {i} of {members:?}, {} parts",
                        w.parts().len()
                    );
                    assert_dots_close(&what, &got, &want, &scale);
                }
            }
        }
    }

    #[test]
    fn every_type_with_partial_tiles() {
        for ty in GPU_WEIGHT_TYPES {
            // 70 rows = 64 + 6, 11 tokens = 8 + 3.
            check(ty, 70, 256, 11, u64::MAX, 65535, false);
        }
    }

    #[test]
    fn q8_0_at_576_columns_and_one_token() {
        // 576 = 18 steps of 32 columns; the F32 case at 48 columns ends in half a step.
        check(GgmlType::Q8_0, 64, 576, 1, u64::MAX, 65535, false);
        check(GgmlType::F32, 33, 48, 5, u64::MAX, 65535, false);
    }

    #[test]
    fn split_weights_accumulate_and_two_dimensional_grid() {
        let parts = check(GgmlType::Q6K, 150, 2048, 9, 64 * 1024, 3, true);
        assert!(parts >= 3);
        let parts = check(GgmlType::Q8_0, 500, 576, 4, 64 * 1024, 65535, false);
        assert!(parts >= 3);
        // The typed Q8_0 kernel's residual add, with a partial tile of tokens and of rows.
        let parts = check(GgmlType::Q8_0, 101, 576, 7, 40 * 1024, 65535, true);
        assert!(parts >= 2);
    }
}
