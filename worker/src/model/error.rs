//! What can be wrong with a model file, named precisely enough to fix.

use crate::gguf::{GgmlType, GgufError};
use crate::quant::QuantError;

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("metadata key {0} is missing")]
    MissingKey(String),
    #[error(
        "metadata key {key} has a value of the wrong type or out of range (expected {expected})"
    )]
    BadValue { key: String, expected: &'static str },
    #[error("architecture {0:?} is not supported (only \"llama\")")]
    UnsupportedArchitecture(String),
    #[error("invalid model shape: {0}")]
    InvalidShape(String),
    #[error("tensor {0} is missing")]
    MissingTensor(String),
    #[error("tensor {name} has shape {found:?}, expected {expected:?}")]
    TensorShape {
        name: String,
        found: Vec<u64>,
        expected: Vec<u64>,
    },
    #[error("tensor {name} has type {ty}, which cannot be read here")]
    TensorType { name: String, ty: GgmlType },
    #[error("tensor {name}: {source}")]
    Dequantize {
        name: String,
        #[source]
        source: QuantError,
    },
    #[error("tensor {name} lies outside the file")]
    TensorOutOfBounds { name: String },
    #[error("token id {token} is outside the vocabulary of {vocab_size}")]
    TokenOutOfRange { token: u32, vocab_size: usize },
    #[error("position {pos} is beyond the context window of {context_len} tokens")]
    ContextFull { pos: usize, context_len: usize },
    #[error("position {pos} does not follow the {cached} cached tokens")]
    PositionGap { pos: usize, cached: usize },
    #[error("no tokens to run")]
    EmptyBatch,
    #[error("the model stream ended early: {0}")]
    Incomplete(String),
    #[error(transparent)]
    Gguf(#[from] GgufError),
    #[error("reading the model: {0}")]
    Io(#[from] std::io::Error),
}
