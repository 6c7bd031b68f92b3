//! The GPU engine: a Llama model's weights streamed into GPU buffers ([`ModelLoader`]) and
//! its forward pass ([`GpuModel::forward`]): prefill with GEMM over a batch, decode with GEMV,
//! the KV cache kept on the GPU between calls, and the sampler's top-K candidates computed on
//! the GPU so that a step reads back only those.

mod forward;
mod loader;
mod model;
mod projections;
mod step_recorder;
mod weights;

#[cfg(not(target_arch = "wasm32"))]
pub use forward::StepTiming;
#[cfg(not(target_arch = "wasm32"))]
pub use loader::load_file;
pub use loader::ModelLoader;
pub use model::GpuModel;
pub use step_recorder::{StageTime, StageTimes};
pub use weights::ModelWeights;

use crate::gguf::GgufError;
use crate::gpu::kernels::matmul::MatmulLayout;
use crate::gpu::kernels::KernelError;
use crate::gpu::{GpuContext, GpuError, WeightError};
use crate::model::ModelError;
use crate::sampler::SamplerError;

/// Tokens per prefill step by default; longer prompts run in chunks of this size.
pub const DEFAULT_MAX_BATCH: u32 = 512;

/// KV-cache positions by default (Llama 3.2 1B: 256 MiB of f32 K/V; its full 131072-token
/// context would need 8 GiB).
pub const DEFAULT_MAX_CONTEXT: usize = 4096;

/// How a model is set up on the GPU.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LoadOptions {
    /// Positions the KV cache holds: the model's context length, capped at this when given
    /// (and at what one storage binding can hold). The cache is allocated up front.
    pub max_context: Option<usize>,
    /// Tokens per prefill step (activation buffers are sized for it).
    pub max_batch: u32,
    /// Largest weight part (binding) in bytes; `None` takes the adapter's limit. Tests force
    /// small parts to exercise tensors split by rows.
    pub max_part_bytes: Option<u64>,
    /// How the matrix products and the other kernels spread their work; `None` takes the one
    /// that suits the adapter. Tests run the GPU layout on lavapipe, a software adapter, so
    /// that the engine GPUs run is checked end to end where no GPU is.
    pub layout: Option<MatmulLayout>,
}

impl LoadOptions {
    /// The layout the model's weights are stored for and its kernels run.
    pub fn layout_for(&self, ctx: &GpuContext) -> MatmulLayout {
        self.layout
            .unwrap_or_else(|| MatmulLayout::for_adapter(ctx))
    }
}

impl Default for LoadOptions {
    fn default() -> Self {
        Self {
            max_context: Some(DEFAULT_MAX_CONTEXT),
            max_batch: DEFAULT_MAX_BATCH,
            max_part_bytes: None,
            layout: None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Gpu(#[from] GpuError),
    #[error(transparent)]
    Weight(#[from] WeightError),
    #[error(transparent)]
    Kernel(#[from] KernelError),
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error(transparent)]
    Gguf(#[from] GgufError),
    #[error(transparent)]
    Sampler(#[from] SamplerError),
    #[error("reading the model: {0}")]
    Io(#[from] std::io::Error),
    #[error("the GPU engine does not handle this model's shape: {0}")]
    UnsupportedShape(String),
    #[error("the model's {bytes} bytes of weights do not fit in this device's memory")]
    OutOfMemory { bytes: u64 },
    #[error("no tokens to run")]
    EmptyBatch,
    #[error("token id {token} is outside the vocabulary of {vocab_size}")]
    TokenOutOfRange { token: u32, vocab_size: usize },
    #[error("positions up to {end} do not fit the context window of {capacity} tokens")]
    ContextFull { end: usize, capacity: usize },
    #[error("position {start_pos} does not follow the {cached} cached tokens")]
    PositionGap { start_pos: usize, cached: usize },
    #[error("top-k with k = {k} (1 to {max} here)")]
    BadK { k: u32, max: u32 },
}
