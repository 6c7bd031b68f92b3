//! WGSL kernels. Each kernel is a `.wgsl` file beside its Rust wrapper, and each wrapper's
//! tests compare it with its CPU twin.

mod embedding;
mod grid;
pub mod matmul;
mod residual_add;

pub use embedding::{embedding_cpu, Embedding, PreparedEmbedding};
pub use grid::WorkgroupGrid;
pub use matmul::{
    gemm_cpu, gemv_cpu, Gemm, Gemv, GemvOptions, KernelError, PreparedGemm, PreparedGemv,
};
pub use residual_add::{residual_add_cpu, ResidualAdd};
