//! What can be wrong with a GGUF file. Each variant names the problem and where it is.

use super::types::ShapeError;

/// A malformed, unsupported or unreasonable GGUF file (or a misused writer).
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum GgufError {
    #[error("not a GGUF file: the magic is {found:02x?}, expected \"GGUF\"")]
    BadMagic { found: [u8; 4] },

    #[error("unsupported GGUF version {version} (supported: 2 and 3)")]
    UnsupportedVersion { version: u32 },

    #[error("the GGUF header is truncated: the input ends at byte {offset} inside {context}")]
    Truncated { offset: u64, context: String },

    #[error("{context} at byte {offset} declares {count} entries, more than the limit of {limit}")]
    CountTooLarge {
        context: String,
        offset: u64,
        count: u64,
        limit: u64,
    },

    #[error(
        "{context} at byte {offset} declares {count} entries, which need at least {needed} bytes \
         but only {available} remain in the file"
    )]
    CountExceedsFile {
        context: String,
        offset: u64,
        count: u64,
        needed: u64,
        available: u64,
    },

    #[error("{context} at byte {offset} is {len} bytes long, more than the limit of {limit}")]
    StringTooLong {
        context: String,
        offset: u64,
        len: u64,
        limit: u64,
    },

    #[error("{context} at byte {offset} is not valid UTF-8")]
    InvalidUtf8 { context: String, offset: u64 },

    #[error("metadata key \"{key}\" at byte {offset} has unknown value type {type_id}")]
    UnknownValueType {
        key: String,
        offset: u64,
        type_id: u32,
    },

    #[error("metadata key \"{key}\" nests arrays deeper than {limit} levels")]
    NestingTooDeep { key: String, limit: u32 },

    #[error("the metadata holds more than {limit} array elements in all (at key \"{key}\")")]
    TooManyArrayElements { key: String, limit: u64 },

    #[error("metadata key \"{key}\" appears twice")]
    DuplicateKey { key: String },

    #[error("general.alignment must be a non-zero power of two stored as u32, found {found}")]
    BadAlignment { found: String },

    #[error("tensor \"{tensor}\" has {n_dims} dimensions; at most {limit} are allowed")]
    TooManyDims {
        tensor: String,
        n_dims: u32,
        limit: u32,
    },

    #[error("tensor \"{tensor}\" has unknown ggml type {type_id}")]
    UnknownTensorType { tensor: String, type_id: u32 },

    #[error("tensor \"{tensor}\" has an invalid shape: {source}")]
    BadShape {
        tensor: String,
        #[source]
        source: ShapeError,
    },

    #[error("tensor \"{tensor}\" appears twice")]
    DuplicateTensor { tensor: String },

    #[error("tensor \"{tensor}\" starts at data offset {offset}, not a multiple of the alignment {alignment}")]
    MisalignedTensor {
        tensor: String,
        offset: u64,
        alignment: u64,
    },

    #[error(
        "tensor \"{tensor}\" lies at file bytes {start}..{end}, beyond the end of the file ({file_len} bytes)"
    )]
    TensorOutOfBounds {
        tensor: String,
        start: u64,
        end: u64,
        file_len: u64,
    },

    #[error("tensor \"{tensor}\" overlaps tensor \"{other}\" in the data section")]
    OverlappingTensors { tensor: String, other: String },

    #[error("the GGUF stream failed: {0}")]
    Io(String),

    #[error("tensor \"{tensor}\" was given {actual} bytes of data, but its type and shape need {expected}")]
    TensorDataSize {
        tensor: String,
        expected: u64,
        actual: u64,
    },

    #[error("the writer expected data for tensor \"{expected}\" next, but got \"{got}\"")]
    TensorOrder { expected: String, got: String },

    #[error("metadata key \"{key}\" holds an array whose elements differ in type")]
    MixedArray { key: String },

    #[error("the writer was finished before the data of tensor \"{tensor}\" was written")]
    MissingTensorData { tensor: String },
}

impl From<std::io::Error> for GgufError {
    fn from(e: std::io::Error) -> Self {
        GgufError::Io(e.to_string())
    }
}
