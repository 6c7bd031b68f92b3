//! Streams a GGUF file into the CPU engine as its bytes arrive: each tensor's bytes are copied
//! once, into a buffer of exactly its size reserved when the header is read (so a model that
//! does not fit in memory fails before the download goes on), and kept in their quantization.

use super::input::InputPrecision;
use super::matrix::{MatrixError, QuantMatrix};
use super::QuantizedModel;
use crate::cpu::{CpuWeights, LayerWeights};
use crate::engine::EngineError;
use crate::gguf::{GgmlType, GgufHeader, TensorInfo};
use crate::model::{tensors, Config, LayerTensor, ModelError};
use crate::model::{TensorDestination, TensorRole, TensorStream};
use std::collections::HashMap;

/// Most bytes of tensors the CPU engine takes on: wasm32 addresses 4 GiB, and the KV cache,
/// activations and the engine itself need room beside the weights.
pub const MAX_WEIGHT_BYTES: u64 = 3 << 30;

struct Sink {
    ty: GgmlType,
    /// `(cols, rows)` for matrices.
    shape: (u64, u64),
    bytes: Vec<u8>,
}

#[derive(Default)]
struct MemoryDestination {
    reserved: u64,
}

impl TensorDestination for MemoryDestination {
    type Sink = Sink;
    type Error = EngineError;

    fn make(
        &mut self,
        name: &str,
        info: &TensorInfo,
        _role: TensorRole,
        bytes: u64,
    ) -> Result<Sink, EngineError> {
        if !crate::quant::DEQUANTIZABLE.contains(&info.ggml_type) {
            return Err(ModelError::TensorType {
                name: name.into(),
                ty: info.ggml_type,
            }
            .into());
        }
        self.reserved = self.reserved.saturating_add(bytes);
        if self.reserved > MAX_WEIGHT_BYTES {
            return Err(EngineError::OutOfMemory {
                bytes: self.reserved,
            });
        }
        let mut buffer = Vec::new();
        // The stream checked `bytes` against the file's length; the reservation can still
        // fail where the browser refuses to grow memory.
        buffer
            .try_reserve_exact(bytes as usize)
            .map_err(|_| EngineError::OutOfMemory {
                bytes: self.reserved,
            })?;
        Ok(Sink {
            ty: info.ggml_type,
            shape: info.rows(),
            bytes: buffer,
        })
    }

    fn write(&mut self, sink: &mut Sink, _offset: u64, piece: &[u8]) -> Result<(), EngineError> {
        sink.bytes.extend_from_slice(piece);
        Ok(())
    }
}

/// Push loader: feed the file's bytes in order with [`Self::push`], then [`Self::finish`].
pub struct CpuLoader {
    destination: MemoryDestination,
    stream: TensorStream<Sink>,
    max_context: Option<usize>,
    precision: InputPrecision,
}

impl CpuLoader {
    /// `file_len`, when known, lets the header parser check every tensor against the file end;
    /// the context window is the model's, capped at `max_context` when given.
    pub fn new(file_len: Option<u64>, max_context: Option<usize>) -> Self {
        Self {
            destination: MemoryDestination::default(),
            stream: TensorStream::new(file_len),
            max_context,
            precision: InputPrecision::default(),
        }
    }

    /// Matrix products take their inputs at `precision` (f32 unless asked).
    pub fn with_precision(self, precision: InputPrecision) -> Self {
        Self { precision, ..self }
    }

    /// The file's header, once complete.
    pub fn header(&self) -> Option<&GgufHeader> {
        self.stream.header()
    }

    /// The model's configuration, once the header is complete.
    pub fn config(&self) -> Option<&Config> {
        self.stream.config()
    }

    /// Feeds the next bytes of the file.
    pub fn push(&mut self, bytes: &[u8]) -> Result<(), EngineError> {
        self.stream.push(&mut self.destination, bytes)
    }

    /// Builds the model once every tensor arrived.
    pub fn finish(self) -> Result<QuantizedModel, EngineError> {
        let (config, sinks) = self.stream.finish()?;
        let weights = assemble(&config, sinks, self.precision)?;
        Ok(QuantizedModel::new(config, weights, self.max_context))
    }

    /// Loads a GGUF file from disk (native tools and tests).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn load_file(
        path: &std::path::Path,
        max_context: Option<usize>,
    ) -> Result<QuantizedModel, EngineError> {
        let mut loader = Self::new(None, max_context);
        loader.stream = crate::model::stream::push_file(path, &mut loader.destination)?;
        loader.finish()
    }
}

fn assemble(
    config: &Config,
    mut sinks: HashMap<String, Sink>,
    precision: InputPrecision,
) -> Result<CpuWeights<QuantMatrix>, EngineError> {
    let matrix = |name: &str, sink: Sink| matrix(name, sink).map(|m| m.with_precision(precision));
    let mut take = |name: &str| {
        sinks
            .remove(name)
            .ok_or_else(|| ModelError::Incomplete(format!("tensor {name} was not loaded")))
    };
    let token_embd = matrix(tensors::TOKEN_EMBD, take(tensors::TOKEN_EMBD)?)?;
    let output = if config.tied_embeddings {
        None
    } else {
        Some(matrix(tensors::OUTPUT, take(tensors::OUTPUT)?)?)
    };
    let mut layers = Vec::with_capacity(config.n_layers);
    for l in 0..config.n_layers {
        let mut m = |t: LayerTensor| {
            let name = t.name(l);
            take(&name).and_then(|s| matrix(&name, s))
        };
        let (wq, wk, wv, wo) = (
            m(LayerTensor::AttnQ)?,
            m(LayerTensor::AttnK)?,
            m(LayerTensor::AttnV)?,
            m(LayerTensor::AttnOutput)?,
        );
        let (gate, up, down) = (
            m(LayerTensor::FfnGate)?,
            m(LayerTensor::FfnUp)?,
            m(LayerTensor::FfnDown)?,
        );
        layers.push(LayerWeights {
            wq,
            wk,
            wv,
            wo,
            gate,
            up,
            down,
            attn_norm: vector(take(&LayerTensor::AttnNorm.name(l))?),
            ffn_norm: vector(take(&LayerTensor::FfnNorm.name(l))?),
        });
    }
    Ok(CpuWeights {
        token_embd,
        layers,
        output_norm: vector(take(tensors::OUTPUT_NORM)?),
        output,
        rope_freqs: take(tensors::ROPE_FREQS).ok().map(vector),
    })
}

fn matrix(name: &str, sink: Sink) -> Result<QuantMatrix, ModelError> {
    let (cols, rows) = sink.shape;
    let too_big = || ModelError::InvalidShape(format!("tensor {name} is too large"));
    let rows = usize::try_from(rows).map_err(|_| too_big())?;
    let cols = usize::try_from(cols).map_err(|_| too_big())?;
    QuantMatrix::new(sink.ty, rows, cols, sink.bytes).map_err(|e| match e {
        MatrixError::Unsupported { ty } => ModelError::TensorType {
            name: name.into(),
            ty,
        },
        e => ModelError::InvalidShape(format!("tensor {name}: {e}")),
    })
}

/// An F32 vector (the stream checked the type).
fn vector(sink: Sink) -> Vec<f32> {
    bytemuck::pod_collect_to_vec(&sink.bytes)
}
