//! Residual add, `x += y`, in place on the GPU.

use super::params::{compute_pipeline, in_pass};
use super::WorkgroupGrid;
use wgpu::util::DeviceExt;

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
        let params = device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some("residual_add params"),
            contents: bytemuck::bytes_of(&[n, 0u32, 0, 0]),
            usage: wgpu::BufferUsages::UNIFORM,
        });
        let bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("residual_add"),
            layout: &self.pipeline.get_bind_group_layout(0),
            entries: &[
                wgpu::BindGroupEntry {
                    binding: 0,
                    resource: x.as_entire_binding(),
                },
                wgpu::BindGroupEntry {
                    binding: 1,
                    resource: y.as_entire_binding(),
                },
                wgpu::BindGroupEntry {
                    binding: 2,
                    resource: params.as_entire_binding(),
                },
            ],
        });
        let grid = WorkgroupGrid::covering(
            n.div_ceil(WORKGROUP_SIZE),
            limits.max_compute_workgroups_per_dimension,
        );
        in_pass(encoder, "residual_add", |pass| {
            pass.set_pipeline(&self.pipeline);
            pass.set_bind_group(0, &bind_group, &[]);
            pass.dispatch_workgroups(grid.x, grid.y, 1);
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
    use crate::gpu::{read_buffer, test_support::gpu};
    use rand::{Rng, SeedableRng};

    fn run_on_gpu(x: &[f32], y: &[f32], max_per_dim: u32) -> Vec<f32> {
        let gpu = gpu();
        let usage = wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC;
        let xb = gpu
            .device
            .create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: None,
                contents: bytemuck::cast_slice(x),
                usage,
            });
        let yb = gpu
            .device
            .create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: None,
                contents: bytemuck::cast_slice(y),
                usage,
            });
        let kernel = ResidualAdd::new(&gpu.device);
        let limits = wgpu::Limits {
            max_compute_workgroups_per_dimension: max_per_dim,
            ..gpu.limits.clone()
        };
        let mut encoder = gpu.device.create_command_encoder(&Default::default());
        kernel.encode(&gpu.device, &limits, &mut encoder, &xb, &yb, x.len() as u32);
        gpu.queue.submit([encoder.finish()]);
        let bytes = pollster::block_on(read_buffer(gpu, &xb, (x.len() * 4) as u64)).unwrap();
        bytemuck::cast_slice(&bytes).to_vec()
    }

    fn random(len: usize, seed: u64) -> Vec<f32> {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        (0..len).map(|_| rng.random_range(-4.0..4.0)).collect()
    }

    #[test]
    fn matches_cpu_twin_including_a_partial_workgroup() {
        let x = random(1000, 1);
        let y = random(1000, 2);
        let mut want = x.clone();
        residual_add_cpu(&mut want, &y);
        assert_eq!(run_on_gpu(&x, &y, 65535), want);
    }

    #[test]
    fn two_dimensional_grid_reaches_every_element() {
        // A tiny per-dimension limit forces the 2-D grid the 128256-row vocabulary needs.
        let x = random(256 * 37 + 5, 3);
        let y = random(256 * 37 + 5, 4);
        let mut want = x.clone();
        residual_add_cpu(&mut want, &y);
        assert_eq!(run_on_gpu(&x, &y, 8), want);
    }
}
