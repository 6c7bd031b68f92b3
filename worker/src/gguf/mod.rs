//! GGUF: the model file format (v2 and v3). An incremental header parser for the chunked
//! download stream, a writer, and the ggml tensor types.
//!
//! The format, from llama.cpp's `gguf` docs: little-endian; magic `GGUF`, version u32, tensor
//! count u64, metadata count u64; metadata entries (key string, value type u32, value); tensor
//! infos (name, n_dims u32, dims u64 × n_dims, ggml type u32, data offset u64); padding to
//! `general.alignment`; the data section.

mod error;
mod facts;
mod header;
mod reader;
mod types;
mod value;
mod writer;

pub use error::GgufError;
pub use facts::{model_facts, FactsError};
pub use header::{GgufHeader, TensorInfo, DEFAULT_ALIGNMENT};
pub use reader::{GgufReader, Limits};
pub use types::{element_count, tensor_bytes, GgmlType, ShapeError};
pub use value::{MetadataValue, ValueType};
pub use writer::{GgufWriter, TensorDataWriter};

#[cfg(test)]
mod tests;
