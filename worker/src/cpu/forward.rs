//! The Llama forward pass on the CPU, with a KV cache.

use super::ops::{attention, rmsnorm, rope_in_place, silu_mul};
use super::weights::{CpuWeights, Matrix, WeightMatrix};
use crate::gguf::GgufHeader;
use crate::model::{Config, ModelError};
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

/// Keys and values of every layer for the positions seen so far: per layer, per position,
/// `n_kv_heads × head_dim` values (keys after RoPE).
#[derive(Clone, Debug)]
pub struct KvCache {
    kv_dim: usize,
    len: usize,
    keys: Vec<Vec<f32>>,
    values: Vec<Vec<f32>>,
}

impl KvCache {
    pub fn new(n_layers: usize, kv_dim: usize) -> Self {
        KvCache {
            kv_dim,
            len: 0,
            keys: vec![Vec::new(); n_layers],
            values: vec![Vec::new(); n_layers],
        }
    }

    /// Number of cached positions.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Keeps the first `len` positions (a common prefix reused by the next turn). No-op if
    /// `len` is not shorter.
    pub fn truncate(&mut self, len: usize) {
        if len < self.len {
            self.len = len;
            for c in self.keys.iter_mut().chain(&mut self.values) {
                c.truncate(len * self.kv_dim);
            }
        }
    }

    pub fn clear(&mut self) {
        self.truncate(0);
    }

    /// A layer's cached keys, `len × kv_dim`.
    pub fn keys(&self, layer: usize) -> &[f32] {
        &self.keys[layer]
    }

    /// A layer's cached values, `len × kv_dim`.
    pub fn values(&self, layer: usize) -> &[f32] {
        &self.values[layer]
    }
}

/// The whole model on the CPU: in f32 (the reference), or with any other [`WeightMatrix`].
pub struct CpuModel<M = Matrix> {
    pub config: Config,
    pub weights: CpuWeights<M>,
    pub cache: KvCache,
    /// Positions the cache may hold: the model's context length, or less.
    context_len: usize,
    logits: Vec<f32>,
}

impl CpuModel {
    /// Reads the header and then each tensor from `source`; the context window is the model's
    /// own context length capped at `max_context` when given.
    pub fn load<R: Read + Seek>(
        source: &mut R,
        max_context: Option<usize>,
    ) -> Result<CpuModel, ModelError> {
        let file_len = source.seek(SeekFrom::End(0))?;
        source.seek(SeekFrom::Start(0))?;
        let header = GgufHeader::read_from(&mut *source, Some(file_len))?;
        let config = Config::from_gguf(&header)?;
        let weights = CpuWeights::load(source, &header, &config)?;
        Ok(Self::new(config, weights, max_context))
    }

    /// [`Self::load`] from a file path.
    pub fn load_file(path: &Path, max_context: Option<usize>) -> Result<CpuModel, ModelError> {
        let mut file = std::io::BufReader::new(std::fs::File::open(path)?);
        Self::load(&mut file, max_context)
    }
}

impl<M: WeightMatrix> CpuModel<M> {
    pub fn new(config: Config, weights: CpuWeights<M>, max_context: Option<usize>) -> Self {
        let context_len = max_context.map_or(config.context_len, |m| m.min(config.context_len));
        CpuModel {
            cache: KvCache::new(config.n_layers, config.kv_dim()),
            context_len,
            logits: Vec::new(),
            config,
            weights,
        }
    }

    pub fn context_len(&self) -> usize {
        self.context_len
    }

    /// Runs one token at position `pos` (which must equal the number of cached positions:
    /// truncate the cache first to rewind) and returns the logits for the next token.
    pub fn forward(&mut self, token: u32, pos: usize) -> Result<&[f32], ModelError> {
        self.forward_batch(&[token], pos)
    }

    /// Runs `tokens` at positions `start_pos..` (a prompt, or the new part of one) and returns
    /// the logits after the last of them. Same arithmetic as calling [`Self::forward`] per
    /// token; each weight matrix is read once for the whole batch.
    pub fn forward_batch(
        &mut self,
        tokens: &[u32],
        start_pos: usize,
    ) -> Result<&[f32], ModelError> {
        let c = &self.config;
        if tokens.is_empty() {
            return Err(ModelError::EmptyBatch);
        }
        if start_pos != self.cache.len {
            return Err(ModelError::PositionGap {
                pos: start_pos,
                cached: self.cache.len,
            });
        }
        let end = start_pos + tokens.len();
        if end > self.context_len {
            return Err(ModelError::ContextFull {
                pos: end - 1,
                context_len: self.context_len,
            });
        }
        if let Some(&token) = tokens.iter().find(|&&t| t as usize >= c.vocab_size) {
            return Err(ModelError::TokenOutOfRange {
                token,
                vocab_size: c.vocab_size,
            });
        }
        let (dim, q_dim, kv_dim, n) = (c.dim, c.q_dim(), c.kv_dim(), tokens.len());
        let w = &self.weights;
        let freqs = w.rope_freqs.as_deref();

        let mut x: Vec<f32> = Vec::with_capacity(n * dim);
        for &t in tokens {
            x.extend_from_slice(&w.token_embd.row_f32(t as usize));
        }
        for (l, lw) in w.layers.iter().enumerate() {
            let h: Vec<f32> = x
                .chunks_exact(dim)
                .flat_map(|xt| rmsnorm(xt, &lw.attn_norm, c.rms_eps))
                .collect();
            let mut q = lw.wq.matmul(&h);
            let mut k = lw.wk.matmul(&h);
            let v = lw.wv.matmul(&h);
            for t in 0..n {
                let pos = start_pos + t;
                let rope = |x: &mut [f32], heads| {
                    rope_in_place(x, heads, c.head_dim, pos, c.rope_base, c.rope_dims, freqs)
                };
                rope(&mut q[t * q_dim..(t + 1) * q_dim], c.n_heads);
                rope(&mut k[t * kv_dim..(t + 1) * kv_dim], c.n_kv_heads);
            }
            self.cache.keys[l].extend_from_slice(&k);
            self.cache.values[l].extend_from_slice(&v);
            let mut att = Vec::with_capacity(n * q_dim);
            for t in 0..n {
                att.extend(attention(
                    &q[t * q_dim..(t + 1) * q_dim],
                    &self.cache.keys[l],
                    &self.cache.values[l],
                    c.n_heads,
                    c.n_kv_heads,
                    c.head_dim,
                    start_pos + t + 1,
                ));
            }
            let o = lw.wo.matmul(&att);
            add_in_place(&mut x, &o);

            let h: Vec<f32> = x
                .chunks_exact(dim)
                .flat_map(|xt| rmsnorm(xt, &lw.ffn_norm, c.rms_eps))
                .collect();
            let gate = lw.gate.matmul(&h);
            let up = lw.up.matmul(&h);
            let down = lw.down.matmul(&silu_mul(&gate, &up));
            add_in_place(&mut x, &down);
        }
        self.cache.len = end;
        let last = rmsnorm(&x[(n - 1) * dim..], &w.output_norm, c.rms_eps);
        self.logits = w.output().matmul(&last);
        Ok(&self.logits)
    }

    /// The logits of the last forward call.
    pub fn logits(&self) -> &[f32] {
        &self.logits
    }
}

fn add_in_place(x: &mut [f32], y: &[f32]) {
    for (a, b) in x.iter_mut().zip(y) {
        *a += b;
    }
}
