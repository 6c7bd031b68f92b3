//! WebGPU (wgpu) side of the engine: device acquisition, buffers, and the WGSL kernels.

mod context;
pub mod kernels;
mod readback;
mod weight_encoding;
mod weights;

pub use context::{GpuContext, GpuError};
pub use readback::{read_buffer, read_mapped, wait_idle};
pub use weight_encoding::WeightEncoding;
pub use weights::{
    max_part_bytes, GpuWeight, PartStorage, WeightError, WeightPart, GPU_WEIGHT_TYPES, STACK_ROWS,
};

#[cfg(test)]
pub(crate) mod test_support;
