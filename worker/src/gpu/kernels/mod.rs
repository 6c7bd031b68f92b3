//! WGSL kernels. Each kernel is a `.wgsl` file beside its Rust wrapper, and each wrapper's
//! tests compare it with its CPU twin.

mod attention;
#[cfg(not(target_arch = "wasm32"))]
pub mod attention_bench;
mod embedding;
mod grid;
pub mod matmul;
pub(crate) mod params;
mod residual_add;
mod rms_norm;
mod rope;
mod swiglu;
mod top_k;
mod unroll;

pub use attention::{
    attention_cpu, Attention, AttentionBinding, AttentionBuffers, AttentionShape, KvCache,
    SplitRule,
};
pub use embedding::{embedding_cpu, Embedding, PreparedEmbedding};
pub use grid::{dispatches_recorded, WorkgroupGrid};
pub use matmul::{
    gemm_cpu, gemv_cpu, Gemm, Gemv, GemvInput, GemvOptions, GemvOutput, KernelError, MatmulLayout,
    PreparedGemm, PreparedGemv, RopeStore,
};
pub use params::{StepParams, StepUniform};
pub use residual_add::{residual_add_cpu, ResidualAdd};
pub use rms_norm::{rms_norm_cpu, RmsNorm, RmsNormBinding};
pub use rope::{rope_cpu, Rope, RopeBinding, RopeBuffers, RopeShape};
pub use swiglu::{swiglu_cpu, SwiGlu, SwiGluBinding};
pub use top_k::{parse_top_k_output, top_k_cpu, top_k_output_size, TopK, TopKBinding};
