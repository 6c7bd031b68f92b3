//! SwiGLU, in place: `gate = silu(gate) * up` over `[n_tokens][ffn_dim]` f32, with
//! `silu(x) = x / (1 + e^−x)`. The result feeds `ffn_down` straight from `gate`.

use super::grid::dispatch_spread;
use super::params::{
    bind_buffers, compute_pipeline, in_pass, shape_uniform, StepParams, StepUniform,
};

const WORKGROUP_SIZE: u32 = 256;

pub struct SwiGlu {
    pipeline: wgpu::ComputePipeline,
    max_per_dim: u32,
}

/// One layer's gate/up bind group, reused every step.
pub struct SwiGluBinding {
    bind_group: wgpu::BindGroup,
    ffn_dim: u32,
}

impl SwiGlu {
    pub fn new(device: &wgpu::Device) -> Self {
        let module = device.create_shader_module(wgpu::include_wgsl!("swiglu.wgsl"));
        Self {
            pipeline: compute_pipeline(device, &module, "swiglu", "main"),
            max_per_dim: device.limits().max_compute_workgroups_per_dimension,
        }
    }

    /// Caps the workgroups per dispatch dimension (tests force the 2-D grid with a small cap).
    pub fn with_max_workgroups_per_dim(mut self, max_per_dim: u32) -> Self {
        self.max_per_dim = max_per_dim;
        self
    }

    /// `gate` and `up` must be different buffers.
    pub fn prepare(
        &self,
        device: &wgpu::Device,
        step: &StepUniform,
        gate: &wgpu::Buffer,
        up: &wgpu::Buffer,
        ffn_dim: u32,
    ) -> SwiGluBinding {
        let shape = shape_uniform(device, "swiglu shape", &[ffn_dim, 0u32, 0, 0]);
        SwiGluBinding {
            bind_group: bind_buffers(
                device,
                &self.pipeline,
                "swiglu",
                &[gate, up, &shape, step.buffer()],
            ),
            ffn_dim,
        }
    }

    /// Records SwiGLU over `n_tokens` rows (the step uniform must say the same).
    pub fn encode_into(
        &self,
        pass: &mut wgpu::ComputePass<'_>,
        binding: &SwiGluBinding,
        n_tokens: u32,
    ) {
        dispatch_spread(
            pass,
            &self.pipeline,
            &binding.bind_group,
            (n_tokens * binding.ffn_dim).div_ceil(WORKGROUP_SIZE),
            self.max_per_dim,
        );
    }

    /// One-shot: a step uniform and bind group of its own, in a pass of its own.
    pub fn encode(
        &self,
        device: &wgpu::Device,
        encoder: &mut wgpu::CommandEncoder,
        gate: &wgpu::Buffer,
        up: &wgpu::Buffer,
        n_tokens: u32,
        ffn_dim: u32,
    ) {
        let step = StepUniform::with(device, StepParams::new(n_tokens, 0));
        let binding = self.prepare(device, &step, gate, up, ffn_dim);
        in_pass(encoder, "swiglu", |pass| {
            self.encode_into(pass, &binding, n_tokens)
        });
    }
}

/// The CPU twin, in f64.
pub fn swiglu_cpu(gate: &[f32], up: &[f32]) -> Vec<f64> {
    gate.iter()
        .zip(up)
        .map(|(&g, &u)| {
            let g = f64::from(g);
            g / (1.0 + (-g).exp()) * f64::from(u)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::params::test_util::{max_rel_err, random, read_f32, storage};
    use super::*;
    use crate::gpu::test_support::gpu;

    /// Tolerance: |gpu − f64 twin| ≤ 1e-6 · (1 + |twin|).
    fn check(n_tokens: usize, ffn_dim: usize, max_per_dim: u32) {
        let gpu = gpu();
        let mut gate = random(n_tokens * ffn_dim, 50 + ffn_dim as u64, 8.0);
        // Saturated ends of the sigmoid.
        gate[0] = -100.0;
        gate[1] = 100.0;
        gate[2] = 0.0;
        let up = random(n_tokens * ffn_dim, 60 + ffn_dim as u64, 3.0);
        let (gb, ub) = (storage(gpu, &gate), storage(gpu, &up));
        let kernel = SwiGlu::new(&gpu.device).with_max_workgroups_per_dim(max_per_dim);
        let mut encoder = gpu.device.create_command_encoder(&Default::default());
        kernel.encode(
            &gpu.device,
            &mut encoder,
            &gb,
            &ub,
            n_tokens as u32,
            ffn_dim as u32,
        );
        gpu.queue.submit([encoder.finish()]);
        let got = read_f32(gpu, &gb, gate.len());
        assert!(got.iter().all(|x| x.is_finite()));
        let err = max_rel_err(&got, &swiglu_cpu(&gate, &up));
        assert!(err < 1e-6, "n {n_tokens} ffn {ffn_dim}: error {err:e}");
    }

    #[test]
    fn decode_and_prefill_rows() {
        check(1, 8192, 65535);
        check(9, 1536, 65535);
        check(3, 1000, 65535);
    }

    #[test]
    fn two_dimensional_grid() {
        check(5, 777, 4);
    }
}
