//! The CPU engine: the same forward pass as the reference ([`CpuModel`]), but the weights stay
//! in their GGUF blocks in memory (about the file's size, e.g. ≈1 GB for Llama 3.2 1B Q6_K,
//! inside wasm32's 4 GB) and each matrix product reads the blocks directly. It is the engine
//! of browsers without WebGPU.
//!
//! Activations stay in f32 by default: every Q6_K and Q8_0 weight is dequantized exactly in
//! registers and multiplied with f32 inputs, so the results equal the f32 reference's up to the
//! order of additions. [`InputPrecision::Int8`] quantizes each input to 8-bit blocks the way
//! ggml's CPU dot products do, for integer products. In wasm the kernels use 128-bit SIMD
//! (`simd128`); natively (tests, tools) they run as plain Rust.

mod dot_f32;
mod dot_q6_k;
mod dot_q8_0;
mod input;
mod loader;
mod matrix;

pub use input::{InputPrecision, QuantizedInput};
pub use loader::CpuLoader;
pub use matrix::QuantMatrix;

use super::CpuModel;

/// A model on the CPU with its weights in their GGUF quantization.
pub type QuantizedModel = CpuModel<QuantMatrix>;

#[cfg(test)]
mod tests;
