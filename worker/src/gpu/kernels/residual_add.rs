//! Residual add, `x += y`, in place on the GPU.

use super::grid::dispatch_spread;
use super::params::{bind_buffers, compute_pipeline, in_pass, uniform_buffer};

const WORKGROUP_SIZE: u32 = 256;

pub struct ResidualAdd {
    pipeline: wgpu::ComputePipeline,
}

impl ResidualAdd {
    pub fn new(device: &wgpu::Device) -> Self {
        let module = device.create_shader_module(wgpu::include_wgsl!("residual_add.wgsl"));
        Self {
            pipeline: compute_pipeline(device, &module, "residual_add", "main"),
        }
    }

    /// Records `x[..n] += y[..n]`. Both buffers hold at least `n` f32s.
    pub fn encode(
        &self,
        device: &wgpu::Device,
        limits: &wgpu::Limits,
        encoder: &mut wgpu::CommandEncoder,
        x: &wgpu::Buffer,
        y: &wgpu::Buffer,
        n: u32,
    ) {
        let params = uniform_buffer(
            device,
            "residual_add params",
            bytemuck::bytes_of(&[n, 0u32, 0, 0]),
        );
        let bind_group = bind_buffers(device, &self.pipeline, "residual_add", &[x, y, &params]);
        in_pass(encoder, "residual_add", |pass| {
            dispatch_spread(
                pass,
                &self.pipeline,
                &bind_group,
                n.div_ceil(WORKGROUP_SIZE),
                limits.max_compute_workgroups_per_dimension,
            )
        });
    }
}

/// The CPU twin: what the kernel must compute.
pub fn residual_add_cpu(x: &mut [f32], y: &[f32]) {
    for (a, b) in x.iter_mut().zip(y) {
        *a += b;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gpu::kernels::params::test_util::{random, read_f32, storage};
    use crate::gpu::test_support::gpu;

    fn run_on_gpu(x: &[f32], y: &[f32], max_per_dim: u32) -> Vec<f32> {
        let gpu = gpu();
        let (xb, yb) = (storage(gpu, x), storage(gpu, y));
        let kernel = ResidualAdd::new(&gpu.device);
        let limits = wgpu::Limits {
            max_compute_workgroups_per_dimension: max_per_dim,
            ..gpu.limits.clone()
        };
        let mut encoder = gpu.device.create_command_encoder(&Default::default());
        kernel.encode(&gpu.device, &limits, &mut encoder, &xb, &yb, x.len() as u32);
        gpu.queue.submit([encoder.finish()]);
        read_f32(gpu, &xb, x.len())
    }

    #[test]
    fn matches_cpu_twin_including_a_partial_workgroup() {
        let x = random(1000, 1, 4.0);
        let y = random(1000, 2, 4.0);
        let mut want = x.clone();
        residual_add_cpu(&mut want, &y);
        assert_eq!(run_on_gpu(&x, &y, 65535), want);
    }

    #[test]
    fn two_dimensional_grid_reaches_every_element() {
        // A tiny per-dimension limit forces the 2-D grid the 128256-row vocabulary needs.
        let x = random(256 * 37 + 5, 3, 4.0);
        let y = random(256 * 37 + 5, 4, 4.0);
        let mut want = x.clone();
        residual_add_cpu(&mut want, &y);
        assert_eq!(run_on_gpu(&x, &y, 8), want);
    }
}
