//! What the catalog, the page and the loader's checks say about a model, read from its GGUF
//! header: name, architecture, size, dominant quantization.

use super::{GgmlType, GgufHeader, ShapeError};
use hearth_protocol::ModelFacts;
use std::collections::HashMap;

#[derive(Debug, thiserror::Error)]
pub enum FactsError {
    #[error("the GGUF names no general.architecture")]
    NoArchitecture,
    #[error(transparent)]
    Shape(#[from] ShapeError),
}

/// The model's facts; `fallback_name` names it when the header has no `general.name`.
pub fn model_facts(header: &GgufHeader, fallback_name: &str) -> Result<ModelFacts, FactsError> {
    let architecture = header
        .get_str("general.architecture")
        .ok_or(FactsError::NoArchitecture)?
        .to_string();
    let name = header
        .get_str("general.name")
        .map_or_else(|| fallback_name.to_string(), str::to_string);
    let mut parameter_count = 0u64;
    let mut tensor_bytes = 0u64;
    let mut bytes_by_type: HashMap<GgmlType, u64> = HashMap::new();
    for tensor in &header.tensors {
        parameter_count += tensor.n_elements().unwrap_or(0);
        let bytes = tensor.byte_size()?;
        tensor_bytes += bytes;
        *bytes_by_type.entry(tensor.ggml_type).or_default() += bytes;
    }
    let quantization = bytes_by_type
        .into_iter()
        .max_by_key(|&(ty, bytes)| (bytes, ty.id()))
        .map(|(ty, _)| ty.name().to_uppercase())
        .unwrap_or_default();
    let context_length = header
        .get(&format!("{architecture}.context_length"))
        .and_then(|v| v.as_u64())
        .unwrap_or(0);
    let vocab_size = header
        .get("tokenizer.ggml.tokens")
        .and_then(|v| v.as_array())
        .map(|a| a.len() as u64)
        .or_else(|| {
            header
                .get(&format!("{architecture}.vocab_size"))
                .and_then(|v| v.as_u64())
        })
        .unwrap_or(0);
    Ok(ModelFacts {
        name,
        architecture,
        parameter_count,
        quantization,
        context_length,
        vocab_size,
        tensor_bytes,
    })
}
