//! Messages between the page and the engine worker.

use serde::{Deserialize, Serialize};

/// Page → worker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ToWorker {
    /// Acquire the WebGPU device (if not yet) and run the residual-add kernel on `a` and `b`:
    /// proves the whole GPU path works on this browser.
    GpuSelfTest { id: u32, a: Vec<f32>, b: Vec<f32> },
}

/// Worker → page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FromWorker {
    /// The worker's wasm is initialised; messages posted before this are lost.
    Ready,
    GpuSelfTest {
        id: u32,
        adapter: AdapterSummary,
        sum: Vec<f32>,
    },
    Error {
        id: Option<u32>,
        message: String,
    },
}

/// What the page shows about the GPU the engine runs on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdapterSummary {
    pub name: String,
    pub backend: String,
    pub max_buffer_size: u64,
    pub max_storage_binding: u64,
    pub shader_f16: bool,
    pub subgroups: bool,
}
