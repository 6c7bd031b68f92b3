//! Messages between the page and the engine worker.

use crate::manifest::ModelFacts;
use serde::{Deserialize, Serialize};

/// Page → worker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ToWorker {
    /// Acquire the WebGPU device (if not yet) and run the residual-add kernel on `a` and `b`:
    /// proves the whole GPU path works on this browser.
    GpuSelfTest { id: u32, a: Vec<f32>, b: Vec<f32> },
    /// Download (through the service worker's chunk cache) and load the model whose
    /// `net_metadata.json` is at `manifest_url`, replacing any loaded model. Answered by
    /// `LoadProgress` events, then `Loaded` or `Error`.
    LoadModel {
        id: u32,
        manifest_url: String,
        #[serde(default)]
        backend: Backend,
    },
    /// Load a GGUF file from this device, replacing any loaded model. The `File` itself travels
    /// beside this message as its `file` field (serde cannot carry it); the worker reads it in
    /// pieces. Answered like `LoadModel`, with `Read` progress.
    LoadFile {
        id: u32,
        name: String,
        size: u64,
        #[serde(default)]
        backend: Backend,
    },
    /// Drop the loaded model and free its GPU memory. Answered by `Unloaded`.
    Unload { id: u32 },
    /// Reply to a conversation: `Token` events, then `Done` or `Error`.
    Generate {
        id: u32,
        messages: Vec<ChatMessage>,
        settings: GenerateSettings,
    },
    /// Cancel request `id` (a load or a generation); a stopped generation still ends with
    /// `Done` (its `stop` says `cancelled`), a cancelled load with `Error`.
    Cancel { id: u32 },
}

/// Where the page asks the engine to run a model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Backend {
    /// The GPU through WebGPU when this browser has a hardware adapter; otherwise the CPU
    /// (no WebGPU, or an adapter that is itself a CPU emulation, which is slower than the
    /// engine's own CPU path).
    #[default]
    Auto,
    /// WebGPU only: fails with `no_web_gpu` where there is none.
    Gpu,
    /// The CPU in WebAssembly (SIMD), even where WebGPU exists.
    Cpu,
    /// WebGPU with the kernels and weight layout written for hardware GPUs even on a software
    /// adapter (SwiftShader), where they run slower than its own: lets a browser without a GPU
    /// check what hardware GPUs run. Not offered in the app's settings.
    GpuHardwareLayout,
}

/// Where a loaded model actually runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunsOn {
    Gpu,
    Cpu,
}

/// Why an automatic load runs on the CPU.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fallback {
    pub reason: FallbackReason,
    /// The browser's or the adapter's own words (e.g. why no adapter was found, or the
    /// software adapter's name).
    pub detail: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FallbackReason {
    /// No WebGPU, or no adapter or device.
    NoWebGpu,
    /// The only adapter is a software emulation on the processor (SwiftShader, llvmpipe),
    /// slower than the CPU engine.
    SoftwareAdapter,
}

/// One turn of a conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    /// `system`, `user` or `assistant`.
    pub role: String,
    pub content: String,
}

/// How to sample a reply. `temperature` 0 is greedy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct GenerateSettings {
    pub temperature: f32,
    /// 0 keeps all tokens.
    pub top_k: u32,
    pub top_p: f32,
    pub repetition_penalty: f32,
    pub max_tokens: u32,
    pub seed: u64,
}

impl Default for GenerateSettings {
    fn default() -> Self {
        Self {
            temperature: 0.7,
            top_k: 40,
            top_p: 0.9,
            repetition_penalty: 1.0,
            max_tokens: 512,
            seed: 0x5EED,
        }
    }
}

/// What a model load is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LoadStage {
    /// Reading the manifest and checking the device and storage.
    Prepare,
    /// Chunks arriving (from the network, or from the service worker's store).
    Download,
    /// Tensors written into GPU buffers.
    Upload,
    /// A local file read piece by piece (each piece goes to the GPU as it arrives).
    Read,
}

/// Why a generation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// The model emitted an end-of-generation token.
    EndOfGeneration,
    /// `max_tokens` reached.
    MaxTokens,
    /// The context window is full.
    ContextFull,
    /// `Cancel` arrived.
    Cancelled,
}

/// Timings and counts of one reply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GenerationStats {
    pub prompt_tokens: u32,
    /// Prompt tokens whose KV cache was kept from the previous turn (not recomputed).
    pub reused_tokens: u32,
    /// Oldest messages left out so the conversation fits the context window.
    pub dropped_messages: u32,
    /// The prompt's ids, for tests comparing with the native engine.
    pub prompt_ids: Vec<u32>,
    /// Generated ids, an end-of-generation token included.
    pub ids: Vec<u32>,
    pub time_to_first_token_ms: f64,
    pub prefill_tok_s: f64,
    pub decode_tok_s: f64,
    pub stop: StopReason,
}

/// What went wrong, so the page can say what to do about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// No WebGPU, or no adapter.
    NoWebGpu,
    /// The adapter's limits are too small for this model.
    DeviceTooSmall,
    /// The GPU device was lost; reloading re-initialises it.
    DeviceLost,
    /// Not enough storage (quota) for the download.
    Storage,
    /// A download failed (offline, server error, corrupted chunk).
    Network,
    /// The model file or manifest is unusable.
    Model,
    /// The request was cancelled.
    Cancelled,
    #[default]
    Other,
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
    LoadProgress {
        id: u32,
        stage: LoadStage,
        bytes_done: u64,
        bytes_total: u64,
    },
    Loaded {
        id: u32,
        model: ModelFacts,
        runs_on: RunsOn,
        /// The GPU, when `runs_on` is `gpu`.
        adapter: Option<AdapterSummary>,
        /// Why an `auto` load runs on the CPU, when it does.
        fallback: Option<Fallback>,
        /// Positions the KV cache holds.
        context: u32,
        load_ms: f64,
    },
    /// The model was dropped and its GPU buffers destroyed.
    Unloaded {
        id: u32,
    },
    /// A piece of the reply's text (whole UTF-8), with the token that completed it.
    Token {
        id: u32,
        token: u32,
        text: String,
    },
    Done {
        id: u32,
        stats: GenerationStats,
    },
    Error {
        id: Option<u32>,
        #[serde(default)]
        kind: ErrorKind,
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
