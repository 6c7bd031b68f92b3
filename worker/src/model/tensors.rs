//! The names and shapes of a Llama GGUF's tensors, shared by the CPU reference and the GPU
//! engine so both look for the same things.

use super::{Config, ModelError};
use crate::gguf::GgufHeader;

pub const TOKEN_EMBD: &str = "token_embd.weight";
pub const OUTPUT_NORM: &str = "output_norm.weight";
pub const OUTPUT: &str = "output.weight";
pub const ROPE_FREQS: &str = "rope_freqs.weight";

/// The per-layer weights, in the order a layer uses them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LayerTensor {
    AttnNorm,
    AttnQ,
    AttnK,
    AttnV,
    AttnOutput,
    FfnNorm,
    FfnGate,
    FfnUp,
    FfnDown,
}

impl LayerTensor {
    pub const ALL: [LayerTensor; 9] = [
        LayerTensor::AttnNorm,
        LayerTensor::AttnQ,
        LayerTensor::AttnK,
        LayerTensor::AttnV,
        LayerTensor::AttnOutput,
        LayerTensor::FfnNorm,
        LayerTensor::FfnGate,
        LayerTensor::FfnUp,
        LayerTensor::FfnDown,
    ];

    fn suffix(self) -> &'static str {
        match self {
            LayerTensor::AttnNorm => "attn_norm",
            LayerTensor::AttnQ => "attn_q",
            LayerTensor::AttnK => "attn_k",
            LayerTensor::AttnV => "attn_v",
            LayerTensor::AttnOutput => "attn_output",
            LayerTensor::FfnNorm => "ffn_norm",
            LayerTensor::FfnGate => "ffn_gate",
            LayerTensor::FfnUp => "ffn_up",
            LayerTensor::FfnDown => "ffn_down",
        }
    }

    /// `blk.{layer}.{kind}.weight`.
    pub fn name(self, layer: usize) -> String {
        format!("blk.{layer}.{}.weight", self.suffix())
    }

    /// The layer and kind a [`Self::name`] names.
    pub fn parse(name: &str) -> Option<(usize, LayerTensor)> {
        let rest = name.strip_prefix("blk.")?.strip_suffix(".weight")?;
        let (layer, suffix) = rest.split_once('.')?;
        let layer = layer.parse().ok()?;
        let kind = Self::ALL.into_iter().find(|t| t.suffix() == suffix)?;
        Some((layer, kind))
    }

    /// GGUF dims (`ne[0]`, the row length, first) this tensor must have.
    pub fn dims(self, c: &Config) -> Vec<u64> {
        let (dim, ffn) = (c.dim as u64, c.ffn_dim as u64);
        let q = (c.n_heads * c.head_dim) as u64;
        let kv = (c.n_kv_heads * c.head_dim) as u64;
        match self {
            LayerTensor::AttnNorm | LayerTensor::FfnNorm => vec![dim],
            LayerTensor::AttnQ => vec![dim, q],
            LayerTensor::AttnK | LayerTensor::AttnV => vec![dim, kv],
            LayerTensor::AttnOutput => vec![q, dim],
            LayerTensor::FfnGate | LayerTensor::FfnUp => vec![dim, ffn],
            LayerTensor::FfnDown => vec![ffn, dim],
        }
    }
}

/// One tensor the model needs: its name and expected GGUF dims.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TensorSpec {
    pub name: String,
    pub dims: Vec<u64>,
    pub required: bool,
}

/// Every tensor of a Llama model with this config, in file-independent order: embedding, the
/// layers, output norm, output (absent when tied), rope frequency factors (optional).
pub fn model_tensors(c: &Config) -> Vec<TensorSpec> {
    let (dim, vocab) = (c.dim as u64, c.vocab_size as u64);
    let mut out = vec![TensorSpec {
        name: TOKEN_EMBD.into(),
        dims: vec![dim, vocab],
        required: true,
    }];
    for layer in 0..c.n_layers {
        for t in LayerTensor::ALL {
            out.push(TensorSpec {
                name: t.name(layer),
                dims: t.dims(c),
                required: true,
            });
        }
    }
    out.push(TensorSpec {
        name: OUTPUT_NORM.into(),
        dims: vec![dim],
        required: true,
    });
    if !c.tied_embeddings {
        out.push(TensorSpec {
            name: OUTPUT.into(),
            dims: vec![dim, vocab],
            required: true,
        });
    }
    out.push(TensorSpec {
        name: ROPE_FREQS.into(),
        dims: vec![(c.rope_dims / 2) as u64],
        required: false,
    });
    out
}

/// Checks that every tensor the config calls for is present with its shape. GGUF writers may
/// drop trailing dims of 1, so `[n]` and `[n, 1]` are the same shape.
pub fn validate_tensors(header: &GgufHeader, c: &Config) -> Result<(), ModelError> {
    for spec in model_tensors(c) {
        let Some(t) = header.tensor(&spec.name) else {
            if spec.required {
                return Err(ModelError::MissingTensor(spec.name));
            }
            continue;
        };
        if !same_shape(&t.dims, &spec.dims) {
            return Err(ModelError::TensorShape {
                name: spec.name,
                found: t.dims.clone(),
                expected: spec.dims,
            });
        }
    }
    Ok(())
}

pub(crate) fn same_shape(a: &[u64], b: &[u64]) -> bool {
    let trim = |d: &[u64]| {
        let mut n = d.len();
        while n > 1 && d[n - 1] == 1 {
            n -= 1;
        }
        d[..n].to_vec()
    };
    trim(a) == trim(b)
}
