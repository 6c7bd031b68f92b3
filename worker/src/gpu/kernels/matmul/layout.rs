//! How a matrix product spreads a weight row's work over invocations: cooperatively (for GPUs)
//! or one invocation per row with no barriers (for software adapters).

use crate::gpu::GpuContext;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatmulLayout {
    /// Several invocations share each row, staging operands in workgroup memory and reducing
    /// with barriers (`gemv.wgsl`, `gemm.wgsl`): for GPUs.
    Cooperative,
    /// One invocation per row, no workgroup memory, no barriers (`gemv_rows.wgsl`,
    /// `gemm_rows.wgsl`): for software adapters, which emulate every barrier by switching
    /// between a workgroup's invocations (on SwiftShader that made a GEMV ~8× slower).
    RowPerInvocation,
}

impl MatmulLayout {
    pub const ALL: [Self; 2] = [Self::Cooperative, Self::RowPerInvocation];

    /// The layout that suits the adapter behind `ctx`.
    pub fn for_adapter(ctx: &GpuContext) -> Self {
        if ctx.is_software() {
            Self::RowPerInvocation
        } else {
            Self::Cooperative
        }
    }
}
