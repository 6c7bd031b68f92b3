//! GGUF v3 writer: for requantized models, synthetic models and test fixtures.
//!
//! Declare metadata and tensors, then stream each tensor's data in declaration order. The layout
//! is the one llama.cpp and the `gguf` Python package write: tensors in order, each at a multiple
//! of the alignment, zero padding after the tensor infos and after each tensor.

use super::error::GgufError;
use super::header::{GgufHeader, TensorInfo, DEFAULT_ALIGNMENT};
use super::types::{tensor_bytes, GgmlType};
use super::value::MetadataValue;
use std::io::Write;

/// Builds the header of a GGUF file.
#[derive(Clone, Debug, Default)]
pub struct GgufWriter {
    metadata: Vec<(String, MetadataValue)>,
    tensors: Vec<TensorInfo>,
}

impl GgufWriter {
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets a metadata value: replaces the value of an existing key in place, else appends.
    pub fn set(&mut self, key: impl Into<String>, value: impl Into<MetadataValue>) {
        let key = key.into();
        let value = value.into();
        match self.metadata.iter_mut().find(|(k, _)| *k == key) {
            Some((_, v)) => *v = value,
            None => self.metadata.push((key, value)),
        }
    }

    /// Removes a metadata key, if present.
    pub fn remove(&mut self, key: &str) {
        self.metadata.retain(|(k, _)| k != key);
    }

    pub fn metadata(&self) -> &[(String, MetadataValue)] {
        &self.metadata
    }

    /// The alignment the file will use: `general.alignment` if set (it must be a power of two
    /// stored as u32), else 32.
    pub fn alignment(&self) -> Result<u64, GgufError> {
        match self.metadata.iter().find(|(k, _)| k == "general.alignment") {
            None => Ok(DEFAULT_ALIGNMENT),
            Some((_, MetadataValue::U32(a))) if a.is_power_of_two() => Ok(u64::from(*a)),
            Some((_, v)) => Err(GgufError::BadAlignment {
                found: format!("{v:?}"),
            }),
        }
    }

    /// Declares the next tensor. Its data goes after the previous tensor's, aligned.
    pub fn add_tensor(
        &mut self,
        name: impl Into<String>,
        dims: &[u64],
        ggml_type: GgmlType,
    ) -> Result<(), GgufError> {
        let name = name.into();
        if self.tensors.iter().any(|t| t.name == name) {
            return Err(GgufError::DuplicateTensor { tensor: name });
        }
        if dims.len() > 4 {
            return Err(GgufError::TooManyDims {
                tensor: name,
                n_dims: dims.len() as u32,
                limit: 4,
            });
        }
        tensor_bytes(ggml_type, dims).map_err(|source| GgufError::BadShape {
            tensor: name.clone(),
            source,
        })?;
        // Offsets depend on the final alignment: `header` lays them out.
        self.tensors.push(TensorInfo {
            name,
            dims: dims.to_vec(),
            ggml_type,
            offset: 0,
        });
        Ok(())
    }

    /// The header as it will be written: tensor offsets and the data offset laid out.
    pub fn header(&self) -> Result<GgufHeader, GgufError> {
        let alignment = self.alignment()?;
        for (key, value) in &self.metadata {
            if !is_homogeneous(value) {
                return Err(GgufError::MixedArray { key: key.clone() });
            }
        }
        let mut tensors = self.tensors.clone();
        let mut offset = 0u64;
        for t in &mut tensors {
            t.offset = offset;
            let size = t.byte_size().map_err(|source| GgufError::BadShape {
                tensor: t.name.clone(),
                source,
            })?;
            offset = offset
                .checked_add(size)
                .and_then(|end| end.checked_next_multiple_of(alignment))
                .ok_or_else(|| GgufError::TensorOutOfBounds {
                    tensor: t.name.clone(),
                    start: offset,
                    end: u64::MAX,
                    file_len: u64::MAX,
                })?;
        }
        let mut header = GgufHeader {
            version: 3,
            metadata: self.metadata.clone(),
            tensors,
            alignment,
            data_offset: 0,
        };
        header.data_offset = encoded_header_len(&header).next_multiple_of(alignment);
        Ok(header)
    }

    /// Writes the header (and padding up to the data section); returns a sink that takes each
    /// tensor's data in declaration order.
    pub fn start<W: Write>(&self, mut out: W) -> Result<TensorDataWriter<W>, GgufError> {
        let header = self.header()?;
        let bytes = encode_header(&header);
        out.write_all(&bytes)?;
        Ok(TensorDataWriter {
            out,
            header,
            next: 0,
            written: bytes.len() as u64,
        })
    }

    /// The whole file in memory; `data[i]` is the data of the i-th declared tensor.
    pub fn to_bytes(&self, data: &[&[u8]]) -> Result<Vec<u8>, GgufError> {
        let mut w = self.start(Vec::new())?;
        let names: Vec<String> = w.header().tensors.iter().map(|t| t.name.clone()).collect();
        for (name, bytes) in names.iter().zip(data) {
            w.write_tensor(name, bytes)?;
        }
        w.finish()
    }
}

/// Takes tensor data after the header has been written.
pub struct TensorDataWriter<W: Write> {
    out: W,
    header: GgufHeader,
    next: usize,
    /// Bytes written so far (absolute file offset).
    written: u64,
}

impl<W: Write> TensorDataWriter<W> {
    pub fn header(&self) -> &GgufHeader {
        &self.header
    }

    /// Writes the data of the next tensor; `name` must be the next declared tensor's and `data`
    /// exactly its size.
    pub fn write_tensor(&mut self, name: &str, data: &[u8]) -> Result<(), GgufError> {
        let Some(t) = self.header.tensors.get(self.next) else {
            return Err(GgufError::TensorOrder {
                expected: "(none: all tensors written)".into(),
                got: name.into(),
            });
        };
        if t.name != name {
            return Err(GgufError::TensorOrder {
                expected: t.name.clone(),
                got: name.into(),
            });
        }
        let expected = t.byte_size().map_err(|source| GgufError::BadShape {
            tensor: t.name.clone(),
            source,
        })?;
        if data.len() as u64 != expected {
            return Err(GgufError::TensorDataSize {
                tensor: t.name.clone(),
                expected,
                actual: data.len() as u64,
            });
        }
        self.out.write_all(data)?;
        self.written += expected;
        self.pad()?;
        self.next += 1;
        Ok(())
    }

    fn pad(&mut self) -> Result<(), GgufError> {
        let to = self.written.next_multiple_of(self.header.alignment);
        let zeros = [0u8; 256];
        while self.written < to {
            let n = (to - self.written).min(zeros.len() as u64) as usize;
            self.out.write_all(&zeros[..n])?;
            self.written += n as u64;
        }
        Ok(())
    }

    /// Checks every tensor was written; returns the output.
    pub fn finish(mut self) -> Result<W, GgufError> {
        if let Some(t) = self.header.tensors.get(self.next) {
            return Err(GgufError::MissingTensorData {
                tensor: t.name.clone(),
            });
        }
        self.out.flush()?;
        Ok(self.out)
    }
}

/// GGUF arrays carry one element type: every element must have it (nested arrays each their own).
fn is_homogeneous(v: &MetadataValue) -> bool {
    match v {
        MetadataValue::Array(items) => {
            let first = items.first().map(MetadataValue::value_type);
            items
                .iter()
                .all(|i| Some(i.value_type()) == first && is_homogeneous(i))
        }
        _ => true,
    }
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as u64).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

fn put_value(out: &mut Vec<u8>, v: &MetadataValue) {
    match v {
        MetadataValue::U8(x) => out.push(*x),
        MetadataValue::I8(x) => out.push(*x as u8),
        MetadataValue::U16(x) => out.extend_from_slice(&x.to_le_bytes()),
        MetadataValue::I16(x) => out.extend_from_slice(&x.to_le_bytes()),
        MetadataValue::U32(x) => out.extend_from_slice(&x.to_le_bytes()),
        MetadataValue::I32(x) => out.extend_from_slice(&x.to_le_bytes()),
        MetadataValue::F32(x) => out.extend_from_slice(&x.to_le_bytes()),
        MetadataValue::Bool(x) => out.push(u8::from(*x)),
        MetadataValue::String(s) => put_str(out, s),
        MetadataValue::Array(items) => {
            // An empty array reads back the same whatever its element type: write u8.
            let elem = items
                .first()
                .map(MetadataValue::value_type)
                .unwrap_or(super::value::ValueType::U8);
            out.extend_from_slice(&elem.id().to_le_bytes());
            out.extend_from_slice(&(items.len() as u64).to_le_bytes());
            for item in items {
                put_value(out, item);
            }
        }
        MetadataValue::U64(x) => out.extend_from_slice(&x.to_le_bytes()),
        MetadataValue::I64(x) => out.extend_from_slice(&x.to_le_bytes()),
        MetadataValue::F64(x) => out.extend_from_slice(&x.to_le_bytes()),
    }
}

/// Encodes a header, with zero padding up to `data_offset`.
fn encode_header(h: &GgufHeader) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(b"GGUF");
    out.extend_from_slice(&h.version.to_le_bytes());
    out.extend_from_slice(&(h.tensors.len() as u64).to_le_bytes());
    out.extend_from_slice(&(h.metadata.len() as u64).to_le_bytes());
    for (k, v) in &h.metadata {
        put_str(&mut out, k);
        out.extend_from_slice(&v.value_type().id().to_le_bytes());
        put_value(&mut out, v);
    }
    for t in &h.tensors {
        put_str(&mut out, &t.name);
        out.extend_from_slice(&(t.dims.len() as u32).to_le_bytes());
        for d in &t.dims {
            out.extend_from_slice(&d.to_le_bytes());
        }
        out.extend_from_slice(&t.ggml_type.id().to_le_bytes());
        out.extend_from_slice(&t.offset.to_le_bytes());
    }
    out.resize(h.data_offset.max(out.len() as u64) as usize, 0);
    out
}

fn encoded_header_len(h: &GgufHeader) -> u64 {
    fn value_len(v: &MetadataValue) -> u64 {
        match v {
            MetadataValue::String(s) => 8 + s.len() as u64,
            MetadataValue::Array(items) => 12 + items.iter().map(value_len).sum::<u64>(),
            other => other.value_type().fixed_size().unwrap_or(0) as u64,
        }
    }
    let kvs: u64 = h
        .metadata
        .iter()
        .map(|(k, v)| 8 + k.len() as u64 + 4 + value_len(v))
        .sum();
    let infos: u64 = h
        .tensors
        .iter()
        .map(|t| 8 + t.name.len() as u64 + 4 + 8 * t.dims.len() as u64 + 4 + 8)
        .sum();
    24 + kvs + infos
}
