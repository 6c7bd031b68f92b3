//! RMSNorm of a batch of rows: `y = x / sqrt(mean(x²) + eps) * w`, one workgroup per row.
//!
//! `x` and `y` are `[n_tokens][dim]` f32 and must be different buffers; `w` is the `[dim]`
//! f32 norm weight (norms are F32 in GGUF). The row count comes from the step uniform.

use super::grid::dispatch_spread;
use super::matmul::MatmulLayout;
use super::params::{
    bind_buffers, compute_pipeline_with, in_pass, shape_uniform, StepParams, StepUniform,
};

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Shape {
    dim: u32,
    eps: f32,
    _pad: [u32; 2],
}

pub struct RmsNorm {
    pipeline: wgpu::ComputePipeline,
    max_per_dim: u32,
}

/// One norm's bind group (its x, w, y and shape), reused every step.
pub struct RmsNormBinding {
    bind_group: wgpu::BindGroup,
}

impl RmsNorm {
    /// `layout` sets the workgroup size (see [`MatmulLayout::reduction_workgroup`]).
    pub fn new(device: &wgpu::Device, layout: MatmulLayout) -> Self {
        let module = device.create_shader_module(wgpu::include_wgsl!("rms_norm.wgsl"));
        let wg = layout.reduction_workgroup(256);
        Self {
            pipeline: compute_pipeline_with(device, &module, "rms_norm", "main", &[("WG", wg)]),
            max_per_dim: device.limits().max_compute_workgroups_per_dimension,
        }
    }

    /// Caps the workgroups per dispatch dimension (tests force the 2-D grid with a small cap).
    pub fn with_max_workgroups_per_dim(mut self, max_per_dim: u32) -> Self {
        self.max_per_dim = max_per_dim;
        self
    }

    #[allow(clippy::too_many_arguments)]
    pub fn prepare(
        &self,
        device: &wgpu::Device,
        step: &StepUniform,
        x: &wgpu::Buffer,
        weight: &wgpu::Buffer,
        y: &wgpu::Buffer,
        dim: u32,
        eps: f32,
    ) -> RmsNormBinding {
        let shape = shape_uniform(
            device,
            "rms_norm shape",
            &Shape {
                dim,
                eps,
                _pad: [0; 2],
            },
        );
        RmsNormBinding {
            bind_group: bind_buffers(
                device,
                &self.pipeline,
                "rms_norm",
                &[x, weight, y, &shape, step.buffer()],
            ),
        }
    }

    /// Records the norm of `n_tokens` rows (the step uniform must say the same).
    pub fn encode_into(
        &self,
        pass: &mut wgpu::ComputePass<'_>,
        binding: &RmsNormBinding,
        n_tokens: u32,
    ) {
        dispatch_spread(
            pass,
            &self.pipeline,
            &binding.bind_group,
            n_tokens,
            self.max_per_dim,
        );
    }

    /// One-shot: a step uniform and bind group of its own, in a pass of its own.
    #[allow(clippy::too_many_arguments)]
    pub fn encode(
        &self,
        device: &wgpu::Device,
        encoder: &mut wgpu::CommandEncoder,
        x: &wgpu::Buffer,
        weight: &wgpu::Buffer,
        y: &wgpu::Buffer,
        n_tokens: u32,
        dim: u32,
        eps: f32,
    ) {
        let step = StepUniform::with(device, StepParams::new(n_tokens, 0));
        let binding = self.prepare(device, &step, x, weight, y, dim, eps);
        in_pass(encoder, "rms_norm", |pass| {
            self.encode_into(pass, &binding, n_tokens)
        });
    }
}

/// The CPU twin, in f64: `x` is `[n][dim]`.
pub fn rms_norm_cpu(x: &[f32], weight: &[f32], eps: f32) -> Vec<f64> {
    let dim = weight.len();
    x.chunks(dim)
        .flat_map(|row| {
            let ms = row.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>() / dim as f64;
            let scale = 1.0 / (ms + f64::from(eps)).sqrt();
            row.iter()
                .zip(weight)
                .map(move |(&v, &w)| f64::from(v) * scale * f64::from(w))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::params::test_util::{max_rel_err, random, read_f32, storage};
    use super::*;
    use crate::gpu::test_support::gpu;

    /// Tolerance: |gpu - f64 twin| <= 1e-5 · (1 + |twin|) (f32 sum of squares over the row).
    fn check(n_tokens: usize, dim: usize, max_per_dim: u32) {
        let gpu = gpu();
        let x = random(n_tokens * dim, 10 + dim as u64, 3.0);
        let w = random(dim, 20 + dim as u64, 1.5);
        let (xb, wb) = (storage(gpu, &x), storage(gpu, &w));
        for layout in MatmulLayout::ALL {
            let yb = storage(gpu, &vec![0.0; n_tokens * dim]);
            let kernel = RmsNorm::new(&gpu.device, layout).with_max_workgroups_per_dim(max_per_dim);
            let mut encoder = gpu.device.create_command_encoder(&Default::default());
            kernel.encode(
                &gpu.device,
                &mut encoder,
                &xb,
                &wb,
                &yb,
                n_tokens as u32,
                dim as u32,
                1e-5,
            );
            gpu.queue.submit([encoder.finish()]);
            let got = read_f32(gpu, &yb, n_tokens * dim);
            let err = max_rel_err(&got, &rms_norm_cpu(&x, &w, 1e-5));
            assert!(
                err < 1e-5,
                "{layout:?} n {n_tokens} dim {dim}: error {err:e}"
            );
        }
    }

    #[test]
    fn decode_row_of_llama_width() {
        check(1, 2048, 65535);
    }

    #[test]
    fn prefill_batch_of_ragged_width() {
        // 576 (SmolLM2) and 1000 are not multiples of the 256-lane workgroup; 100 < 256.
        check(7, 576, 65535);
        check(5, 1000, 65535);
        check(3, 100, 65535);
    }

    #[test]
    fn two_dimensional_grid_of_rows() {
        check(13, 64, 4);
    }
}
