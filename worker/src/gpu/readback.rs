//! Copying a GPU buffer's contents back to the CPU, natively and in the browser.

use super::{GpuContext, GpuError};

/// Reads `size` bytes from the start of `src` (which needs `COPY_SRC` usage).
pub async fn read_buffer(
    gpu: &GpuContext,
    src: &wgpu::Buffer,
    size: u64,
) -> Result<Vec<u8>, GpuError> {
    let staging = gpu.device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("readback"),
        size,
        usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });
    let mut encoder = gpu
        .device
        .create_command_encoder(&wgpu::CommandEncoderDescriptor {
            label: Some("readback"),
        });
    encoder.copy_buffer_to_buffer(src, 0, &staging, 0, size);
    gpu.queue.submit([encoder.finish()]);

    read_mapped(gpu, &staging).await
}

/// Maps a `MAP_READ` buffer whose copy has been submitted, returns its bytes and unmaps it
/// (so the buffer can be reused as a staging buffer for the next read-back).
// The device is only polled natively.
#[cfg_attr(target_arch = "wasm32", allow(unused_variables))]
pub async fn read_mapped(gpu: &GpuContext, staging: &wgpu::Buffer) -> Result<Vec<u8>, GpuError> {
    let (tx, rx) = futures_channel::oneshot::channel();
    staging
        .slice(..)
        .map_async(wgpu::MapMode::Read, move |result| {
            let _ = tx.send(result);
        });
    // Natively nothing happens until the device is polled; in the browser the promise
    // resolves on its own and `poll` returns at once.
    #[cfg(not(target_arch = "wasm32"))]
    gpu.device
        .poll(wgpu::PollType::wait_indefinitely())
        .map_err(|e| GpuError::Readback(e.to_string()))?;
    rx.await
        .map_err(|_| GpuError::Readback("the map callback was dropped".into()))?
        .map_err(|e| GpuError::Readback(e.to_string()))?;
    let bytes = staging
        .slice(..)
        .get_mapped_range()
        .map_err(|e| GpuError::Readback(e.to_string()))?
        .to_vec();
    staging.unmap();
    Ok(bytes)
}

/// Resolves once the queue has run everything submitted (and written) so far.
pub async fn wait_idle(gpu: &GpuContext) {
    let (tx, rx) = futures_channel::oneshot::channel();
    // Flushes pending buffer writes into a submission the callback waits for.
    gpu.queue.submit([]);
    gpu.queue.on_submitted_work_done(move || {
        let _ = tx.send(());
    });
    #[cfg(not(target_arch = "wasm32"))]
    let _ = gpu.device.poll(wgpu::PollType::wait_indefinitely());
    let _ = rx.await;
}
