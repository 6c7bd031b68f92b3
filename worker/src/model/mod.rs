//! What a Llama model is, independent of where it runs: its hyper-parameters ([`Config`]) and
//! the names and shapes of its tensors ([`tensors`]). The CPU reference and the GPU engine
//! both start here.

mod config;
mod error;
pub mod stream;
pub mod tensors;

pub use config::Config;
pub use error::ModelError;
pub use stream::{TensorDestination, TensorRole, TensorStream};
pub use tensors::{model_tensors, validate_tensors, LayerTensor, TensorSpec};

#[cfg(test)]
pub(crate) mod tests;
