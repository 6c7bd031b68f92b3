//! What a chat session needs of a model: a forward pass over new tokens that hands back the
//! next token's candidates, with a KV cache that can be rewound.

use crate::cpu::{CpuModel, WeightMatrix};
use crate::engine::{EngineError, GpuModel};
use crate::sampler::Candidates;
use std::future::Future;

pub trait LanguageModel {
    fn vocab_size(&self) -> usize;
    /// Positions the KV cache can hold.
    fn capacity(&self) -> usize;
    /// Most candidates one step can hand over.
    fn max_k(&self) -> usize;
    /// Runs `tokens` at positions `start_pos..` (forgetting cached positions from `start_pos`
    /// on) and returns the top `k` candidates for the next token.
    fn forward(
        &mut self,
        tokens: &[u32],
        start_pos: usize,
        k: usize,
    ) -> impl Future<Output = Result<Candidates, EngineError>>;
}

impl LanguageModel for GpuModel {
    fn vocab_size(&self) -> usize {
        self.config().vocab_size
    }

    fn capacity(&self) -> usize {
        GpuModel::capacity(self)
    }

    fn max_k(&self) -> usize {
        GpuModel::max_k(self) as usize
    }

    async fn forward(
        &mut self,
        tokens: &[u32],
        start_pos: usize,
        k: usize,
    ) -> Result<Candidates, EngineError> {
        let k = u32::try_from(k).unwrap_or(u32::MAX);
        GpuModel::forward(self, tokens, start_pos, k).await
    }
}

impl<M: WeightMatrix> LanguageModel for CpuModel<M> {
    fn vocab_size(&self) -> usize {
        self.config.vocab_size
    }

    fn capacity(&self) -> usize {
        self.context_len()
    }

    fn max_k(&self) -> usize {
        self.config.vocab_size
    }

    async fn forward(
        &mut self,
        tokens: &[u32],
        start_pos: usize,
        k: usize,
    ) -> Result<Candidates, EngineError> {
        self.cache.truncate(start_pos);
        let logits = self.forward_batch(tokens, start_pos)?;
        Ok(Candidates::from_logits(logits, k)?)
    }
}
