//! Hearth's engine. The same crate runs in the browser's dedicated worker (wasm32, WebGPU) and
//! natively (Vulkan; lavapipe in tests), so every kernel is tested with `cargo test`.

pub mod chat;
pub mod cpu;
pub mod engine;
pub mod gguf;
pub mod gpu;
pub mod model;
pub mod quant;
pub mod sampler;
pub mod session;
pub mod tokenizer;

#[cfg(target_arch = "wasm32")]
mod web;
