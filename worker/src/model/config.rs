//! A Llama model's hyper-parameters, read from GGUF metadata and checked against its tensors.

use super::tensors::{self, OUTPUT, TOKEN_EMBD};
use super::ModelError;
use crate::gguf::GgufHeader;

/// Shapes and constants of a Llama model. Every field is validated by [`Config::from_gguf`]:
/// heads divide the model width, KV heads divide the heads, RoPE dims are even and fit a head,
/// and every tensor is present with the shape these imply.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    pub n_layers: usize,
    /// Width of the residual stream (`embedding_length`).
    pub dim: usize,
    pub ffn_dim: usize,
    pub n_heads: usize,
    pub n_kv_heads: usize,
    pub head_dim: usize,
    pub rope_base: f32,
    /// How many of each head's dims are rotated (the first `rope_dims`, in adjacent pairs).
    pub rope_dims: usize,
    pub rms_eps: f32,
    /// The context length the model was trained for; engines may use a smaller window.
    pub context_len: usize,
    pub vocab_size: usize,
    /// No `output.weight`: the output projection is `token_embd.weight`.
    pub tied_embeddings: bool,
}

impl Config {
    pub fn from_gguf(header: &GgufHeader) -> Result<Config, ModelError> {
        let arch = header
            .get("general.architecture")
            .ok_or_else(|| ModelError::MissingKey("general.architecture".into()))?
            .as_str()
            .ok_or_else(|| ModelError::BadValue {
                key: "general.architecture".into(),
                expected: "a string",
            })?;
        if arch != "llama" {
            return Err(ModelError::UnsupportedArchitecture(arch.to_string()));
        }
        let key = |k: &str| format!("{arch}.{k}");
        let count = |k: &str| -> Result<Option<usize>, ModelError> {
            let k = key(k);
            match header.get(&k) {
                None => Ok(None),
                Some(v) => v
                    .as_u64()
                    .and_then(|n| usize::try_from(n).ok())
                    .filter(|&n| n > 0 && n <= 1 << 24)
                    .map(Some)
                    .ok_or(ModelError::BadValue {
                        key: k,
                        expected: "an integer from 1 to 2^24",
                    }),
            }
        };
        let required = |k: &str| count(k)?.ok_or_else(|| ModelError::MissingKey(key(k)));
        let float = |k: &str| -> Result<Option<f32>, ModelError> {
            let k = key(k);
            match header.get(&k) {
                None => Ok(None),
                Some(v) => v
                    .as_f32()
                    .filter(|x| x.is_finite() && *x > 0.0)
                    .map(Some)
                    .ok_or(ModelError::BadValue {
                        key: k,
                        expected: "a positive finite float",
                    }),
            }
        };

        let n_layers = required("block_count")?;
        let dim = required("embedding_length")?;
        let ffn_dim = required("feed_forward_length")?;
        let n_heads = required("attention.head_count")?;
        let n_kv_heads = count("attention.head_count_kv")?.unwrap_or(n_heads);
        let head_dim = match count("attention.key_length")? {
            Some(k) => k,
            None => {
                if !dim.is_multiple_of(n_heads) {
                    return Err(ModelError::InvalidShape(format!(
                        "embedding length {dim} is not a multiple of the {n_heads} heads"
                    )));
                }
                dim / n_heads
            }
        };
        if let Some(v) = count("attention.value_length")? {
            if v != head_dim {
                return Err(ModelError::InvalidShape(format!(
                    "value length {v} differs from key length {head_dim}"
                )));
            }
        }
        if !n_heads.is_multiple_of(n_kv_heads) {
            return Err(ModelError::InvalidShape(format!(
                "{n_heads} heads are not a multiple of the {n_kv_heads} KV heads"
            )));
        }
        let rope_base = float("rope.freq_base")?.unwrap_or(10000.0);
        let rope_dims = count("rope.dimension_count")?.unwrap_or(head_dim);
        if !rope_dims.is_multiple_of(2) || rope_dims > head_dim {
            return Err(ModelError::InvalidShape(format!(
                "RoPE dimension count {rope_dims} must be even and at most the head size {head_dim}"
            )));
        }
        let rms_eps = float("attention.layer_norm_rms_epsilon")?
            .ok_or_else(|| ModelError::MissingKey(key("attention.layer_norm_rms_epsilon")))?;
        let context_len = required("context_length")?;

        let embd = header
            .tensor(TOKEN_EMBD)
            .ok_or_else(|| ModelError::MissingTensor(TOKEN_EMBD.into()))?;
        let vocab_size = match count("vocab_size")? {
            Some(v) => v,
            None => match header
                .get("tokenizer.ggml.tokens")
                .and_then(|v| v.as_array())
            {
                Some(tokens) if !tokens.is_empty() => tokens.len(),
                _ => embd
                    .dims
                    .get(1)
                    .and_then(|&n| usize::try_from(n).ok())
                    .filter(|&n| n > 0)
                    .ok_or_else(|| {
                        ModelError::InvalidShape(format!(
                            "cannot tell the vocabulary size: {TOKEN_EMBD} has dims {:?}",
                            embd.dims
                        ))
                    })?,
            },
        };
        let config = Config {
            n_layers,
            dim,
            ffn_dim,
            n_heads,
            n_kv_heads,
            head_dim,
            rope_base,
            rope_dims,
            rms_eps,
            context_len,
            vocab_size,
            tied_embeddings: header.tensor(OUTPUT).is_none(),
        };
        tensors::validate_tensors(header, &config)?;
        Ok(config)
    }

    /// Query heads per KV head.
    pub fn group_size(&self) -> usize {
        self.n_heads / self.n_kv_heads
    }

    /// Width of the concatenated query heads.
    pub fn q_dim(&self) -> usize {
        self.n_heads * self.head_dim
    }

    /// Width of one token's K (or V) in the cache.
    pub fn kv_dim(&self) -> usize {
        self.n_kv_heads * self.head_dim
    }
}
