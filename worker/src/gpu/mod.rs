//! WebGPU (wgpu) side of the engine: device acquisition, buffers, and the WGSL kernels.

mod context;
pub mod kernels;
mod readback;

pub use context::{GpuContext, GpuError};
pub use readback::read_buffer;

#[cfg(test)]
pub(crate) mod test_support;
