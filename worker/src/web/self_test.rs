//! The start-up check: the residual-add kernel on two vectors, proving the whole WebGPU path.

use crate::gpu::{kernels::ResidualAdd, read_buffer, GpuContext, GpuError};
use hearth_protocol::AdapterSummary;
use wgpu::util::DeviceExt;

#[derive(Debug, thiserror::Error)]
pub enum SelfTestError {
    #[error(transparent)]
    Gpu(#[from] GpuError),
    #[error("the two vectors differ in length ({0} and {1})")]
    Shape(usize, usize),
}

pub async fn gpu_self_test(
    gpu: &GpuContext,
    a: &[f32],
    b: &[f32],
) -> Result<(AdapterSummary, Vec<f32>), SelfTestError> {
    if a.len() != b.len() || a.is_empty() {
        return Err(SelfTestError::Shape(a.len(), b.len()));
    }
    let usage = wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC;
    let buffer = |label, contents: &[f32]| {
        gpu.device
            .create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some(label),
                contents: bytemuck::cast_slice(contents),
                usage,
            })
    };
    let x = buffer("self-test x", a);
    let y = buffer("self-test y", b);
    let kernel = ResidualAdd::new(&gpu.device);
    let mut encoder = gpu.device.create_command_encoder(&Default::default());
    kernel.encode(
        &gpu.device,
        &gpu.limits,
        &mut encoder,
        &x,
        &y,
        a.len() as u32,
    );
    gpu.queue.submit([encoder.finish()]);
    let bytes = read_buffer(gpu, &x, (a.len() * 4) as u64).await?;
    Ok((gpu.summary(), bytemuck::cast_slice(&bytes).to_vec()))
}
