//! The CPU reference of the Llama forward pass: plain, obviously correct f32 Rust. It is the
//! oracle every GPU op and the GPU engine are compared with (itself checked against a float64
//! numpy implementation in `tests/cpu_reference.rs`), and the base of a no-WebGPU fallback.

mod forward;
pub mod ops;
pub mod quantized;
mod weights;

pub use forward::{CpuModel, KvCache};
pub use weights::{read_tensor, CpuWeights, LayerWeights, Matrix, WeightMatrix};

#[cfg(test)]
mod tests;
