//! WGSL kernels. Each kernel is a `.wgsl` file beside its Rust wrapper, and each wrapper's
//! tests compare it with its CPU twin.

mod grid;
mod residual_add;

pub use grid::WorkgroupGrid;
pub use residual_add::{residual_add_cpu, ResidualAdd};
