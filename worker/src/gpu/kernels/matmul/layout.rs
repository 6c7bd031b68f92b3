//! How a matrix product spreads a weight row's work over invocations: cooperatively (for GPUs)
//! or one invocation per row with no barriers (for software adapters).

use crate::gpu::GpuContext;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatmulLayout {
    /// Several invocations share each row, staging operands in workgroup memory and reducing
    /// with barriers (`gemv.wgsl`, `gemm.wgsl`): for GPUs.
    Cooperative,
    /// Each invocation takes whole rows (several, for Q8_0 and Q6_K), no workgroup memory, no
    /// barriers (`gemv_rows*.wgsl`, `gemm_rows*.wgsl`): for software adapters, which emulate
    /// every barrier by switching between a workgroup's invocations (on SwiftShader that made a
    /// GEMV ~8× slower).
    RowPerInvocation,
}

impl MatmulLayout {
    pub const ALL: [Self; 2] = [Self::Cooperative, Self::RowPerInvocation];

    /// The workgroup size of a kernel that reduces through workgroup memory and barriers (the
    /// norms; the top-K on GPUs): its own `gpu` size on GPUs; on software adapters a couple of
    /// SIMD registers' worth of invocations (8), so that a barrier has almost no other SIMD
    /// group to switch to. With 256, SwiftShader spent 24 ms of a 211 ms SmolLM2 decode step in
    /// the 61 RMSNorms and 42 ms in the top-K; with 8, the step took 155 ms. (4 was no faster,
    /// and lavapipe, Mesa 22.3, got the top-K merge wrong with it.) Software adapters now run
    /// a top-K with no barrier at all (top_k_scan.wgsl).
    pub fn reduction_workgroup(self, gpu: u32) -> f64 {
        match self {
            Self::Cooperative => f64::from(gpu),
            Self::RowPerInvocation => 8.0,
        }
    }

    /// The layout that suits the adapter behind `ctx`.
    pub fn for_adapter(ctx: &GpuContext) -> Self {
        if ctx.is_software() {
            Self::RowPerInvocation
        } else {
            Self::Cooperative
        }
    }
}
