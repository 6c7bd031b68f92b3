//! One shared device for every GPU test in this crate (lavapipe in CI).

use super::GpuContext;
use std::sync::OnceLock;

pub(crate) fn gpu() -> &'static GpuContext {
    static GPU: OnceLock<GpuContext> = OnceLock::new();
    GPU.get_or_init(|| {
        pollster::block_on(GpuContext::new()).unwrap_or_else(|e| {
            panic!("GPU tests need a Vulkan adapter (lavapipe: apt-get install mesa-vulkan-drivers): {e}")
        })
    })
}
