//! A Llama model's weights on the CPU: as f32 for the reference ([`Matrix`], read from a GGUF
//! one tensor at a time), or any other [`WeightMatrix`] (the quantized blocks themselves for
//! the CPU engine).

use crate::cpu::ops;
use crate::gguf::{GgufHeader, TensorInfo};
use crate::model::tensors::{LayerTensor, OUTPUT, OUTPUT_NORM, ROPE_FREQS, TOKEN_EMBD};
use crate::model::{Config, ModelError};
use crate::quant;
use std::borrow::Cow;
use std::io::{Read, Seek, SeekFrom};

/// A row-major matrix: `rows` rows of `cols` (GGUF `ne[0] = cols`, `ne[1] = rows`).
#[derive(Clone, Debug, PartialEq)]
pub struct Matrix {
    pub rows: usize,
    pub cols: usize,
    pub data: Vec<f32>,
}

impl Matrix {
    pub fn row(&self, r: usize) -> &[f32] {
        &self.data[r * self.cols..(r + 1) * self.cols]
    }
}

/// A weight matrix as the CPU forward pass uses it.
pub trait WeightMatrix {
    fn rows(&self) -> usize;
    fn cols(&self) -> usize;
    /// `W · x` for each of the `n = xs.len() / cols` vectors in `xs` (one after another);
    /// returns `n` outputs of `rows`, one after another.
    fn matmul(&self, xs: &[f32]) -> Vec<f32>;
    /// Row `r` as f32 (an embedding lookup).
    fn row_f32(&self, r: usize) -> Cow<'_, [f32]>;
}

impl WeightMatrix for Matrix {
    fn rows(&self) -> usize {
        self.rows
    }

    fn cols(&self) -> usize {
        self.cols
    }

    fn matmul(&self, xs: &[f32]) -> Vec<f32> {
        ops::matmul(&self.data, self.rows, self.cols, xs)
    }

    fn row_f32(&self, r: usize) -> Cow<'_, [f32]> {
        Cow::Borrowed(self.row(r))
    }
}

#[derive(Clone, Debug)]
pub struct LayerWeights<M = Matrix> {
    pub attn_norm: Vec<f32>,
    pub wq: M,
    pub wk: M,
    pub wv: M,
    pub wo: M,
    pub ffn_norm: Vec<f32>,
    pub gate: M,
    pub up: M,
    pub down: M,
}

#[derive(Clone, Debug)]
pub struct CpuWeights<M = Matrix> {
    pub token_embd: M,
    pub layers: Vec<LayerWeights<M>>,
    pub output_norm: Vec<f32>,
    /// `None` when tied: the output projection is `token_embd`.
    pub output: Option<M>,
    /// Llama 3.x RoPE frequency factors (`rope_freqs.weight`), when the file has them.
    pub rope_freqs: Option<Vec<f32>>,
}

impl<M> CpuWeights<M> {
    /// The output projection (`output.weight`, or `token_embd.weight` when tied).
    pub fn output(&self) -> &M {
        self.output.as_ref().unwrap_or(&self.token_embd)
    }
}

impl CpuWeights {
    /// Reads every tensor the config names. `header` must be `source`'s own header, and
    /// `config` made from it (so every shape is already checked).
    pub fn load<R: Read + Seek>(
        source: &mut R,
        header: &GgufHeader,
        config: &Config,
    ) -> Result<CpuWeights, ModelError> {
        let file_len = source.seek(SeekFrom::End(0))?;
        let mut read = |name: &str| read_tensor(source, header, file_len, name);
        let mut matrix = |name: &str| -> Result<Matrix, ModelError> {
            let t = header
                .tensor(name)
                .ok_or_else(|| ModelError::MissingTensor(name.to_string()))?;
            let (cols, rows) = t.rows();
            let data = read(name)?;
            Ok(Matrix {
                rows: rows as usize,
                cols: cols as usize,
                data,
            })
        };
        let token_embd = matrix(TOKEN_EMBD)?;
        let mut layers = Vec::with_capacity(config.n_layers);
        for i in 0..config.n_layers {
            layers.push(LayerWeights {
                attn_norm: matrix(&LayerTensor::AttnNorm.name(i))?.data,
                wq: matrix(&LayerTensor::AttnQ.name(i))?,
                wk: matrix(&LayerTensor::AttnK.name(i))?,
                wv: matrix(&LayerTensor::AttnV.name(i))?,
                wo: matrix(&LayerTensor::AttnOutput.name(i))?,
                ffn_norm: matrix(&LayerTensor::FfnNorm.name(i))?.data,
                gate: matrix(&LayerTensor::FfnGate.name(i))?,
                up: matrix(&LayerTensor::FfnUp.name(i))?,
                down: matrix(&LayerTensor::FfnDown.name(i))?,
            });
        }
        let output_norm = matrix(OUTPUT_NORM)?.data;
        let output = if config.tied_embeddings {
            None
        } else {
            Some(matrix(OUTPUT)?)
        };
        let rope_freqs = match header.tensor(ROPE_FREQS) {
            Some(_) => {
                let f = matrix(ROPE_FREQS)?.data;
                if f.iter().any(|x| !(x.is_finite() && *x > 0.0)) {
                    return Err(ModelError::InvalidShape(format!(
                        "{ROPE_FREQS} holds a value that is not a positive finite number"
                    )));
                }
                Some(f)
            }
            None => None,
        };
        Ok(CpuWeights {
            token_embd,
            layers,
            output_norm,
            output,
            rope_freqs,
        })
    }
}

/// One tensor of the file, dequantized to f32. Only that tensor's bytes are in memory.
pub fn read_tensor<R: Read + Seek>(
    source: &mut R,
    header: &GgufHeader,
    file_len: u64,
    name: &str,
) -> Result<Vec<f32>, ModelError> {
    let t: &TensorInfo = header
        .tensor(name)
        .ok_or_else(|| ModelError::MissingTensor(name.to_string()))?;
    if !quant::DEQUANTIZABLE.contains(&t.ggml_type) {
        return Err(ModelError::TensorType {
            name: name.to_string(),
            ty: t.ggml_type,
        });
    }
    let range = header
        .tensor_data_range(t)
        .filter(|r| r.end <= file_len)
        .ok_or_else(|| ModelError::TensorOutOfBounds {
            name: name.to_string(),
        })?;
    let len =
        usize::try_from(range.end - range.start).map_err(|_| ModelError::TensorOutOfBounds {
            name: name.to_string(),
        })?;
    source.seek(SeekFrom::Start(range.start))?;
    let mut bytes = vec![0u8; len];
    source.read_exact(&mut bytes)?;
    quant::dequantize_to_vec(t.ggml_type, &bytes).map_err(|source| ModelError::Dequantize {
        name: name.to_string(),
        source,
    })
}
