//! The parsed GGUF header: metadata and tensor directory.

use super::types::{element_count, tensor_bytes, GgmlType, ShapeError};
use super::value::MetadataValue;
use std::ops::Range;

/// Alignment of the data section and of each tensor when `general.alignment` is absent.
pub const DEFAULT_ALIGNMENT: u64 = 32;

/// One entry of the tensor directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TensorInfo {
    pub name: String,
    /// Shape, `ne[0]` (the row length, fastest-varying axis) first.
    pub dims: Vec<u64>,
    pub ggml_type: GgmlType,
    /// Byte offset of the tensor's data, relative to the start of the data section.
    pub offset: u64,
}

impl TensorInfo {
    /// Number of weights; `None` on overflow (never for a tensor of a parsed header).
    pub fn n_elements(&self) -> Option<u64> {
        element_count(&self.dims)
    }

    /// Bytes of the tensor's data (checked once more here, for hand-built infos).
    pub fn byte_size(&self) -> Result<u64, ShapeError> {
        tensor_bytes(self.ggml_type, &self.dims)
    }

    /// Row length (`ne[0]`) and number of rows (the product of the other dimensions).
    pub fn rows(&self) -> (u64, u64) {
        let row_len = self.dims.first().copied().unwrap_or(1);
        let rows = element_count(self.dims.get(1..).unwrap_or(&[])).unwrap_or(u64::MAX);
        (row_len, rows)
    }
}

/// A GGUF file's header: everything before the data section.
#[derive(Clone, Debug, PartialEq)]
pub struct GgufHeader {
    pub version: u32,
    /// Metadata in file order. Keys are unique.
    pub metadata: Vec<(String, MetadataValue)>,
    pub tensors: Vec<TensorInfo>,
    /// `general.alignment`, or 32 when absent.
    pub alignment: u64,
    /// Absolute file offset where the data section starts.
    pub data_offset: u64,
}

impl GgufHeader {
    pub fn get(&self, key: &str) -> Option<&MetadataValue> {
        self.metadata.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    pub fn get_str(&self, key: &str) -> Option<&str> {
        self.get(key)?.as_str()
    }

    pub fn get_u32(&self, key: &str) -> Option<u32> {
        self.get(key)?.as_u32()
    }

    pub fn get_f32(&self, key: &str) -> Option<f32> {
        self.get(key)?.as_f32()
    }

    /// The array at `key` if every element is a string.
    pub fn get_str_array(&self, key: &str) -> Option<Vec<&str>> {
        self.get(key)?
            .as_array()?
            .iter()
            .map(MetadataValue::as_str)
            .collect()
    }

    pub fn tensor(&self, name: &str) -> Option<&TensorInfo> {
        self.tensors.iter().find(|t| t.name == name)
    }

    /// Absolute file byte range of a tensor's data. `None` if its size overflows (never for a
    /// tensor of a parsed header).
    pub fn tensor_data_range(&self, tensor: &TensorInfo) -> Option<Range<u64>> {
        let start = self.data_offset.checked_add(tensor.offset)?;
        let end = start.checked_add(tensor.byte_size().ok()?)?;
        Some(start..end)
    }
}
