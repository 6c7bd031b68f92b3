//! The benchmark results as `docs/benchmarks.json` holds them: the native engine's runs
//! (`xtask bench`) and the browser run (`tests/bench/browser.mjs`). Only the fields the
//! rendering reads are named; every other field is kept as it came, so the JSON file holds
//! all the raw data.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Everything one `cargo xtask benchmarks` measured.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Benchmarks {
    /// The command that produced this file.
    pub command: String,
    /// The commit measured (`-dirty` when the tree had changes).
    pub commit: String,
    pub native: Vec<NativeRun>,
    /// The CPU engine's wasm SIMD kernels in Node (`worker/tests/simd_bench.rs`).
    #[serde(default)]
    pub cpu_kernels: Vec<CpuKernel>,
    pub browser: BrowserReport,
}

/// One CPU-engine kernel measurement: a `rows × cols` matrix of `ty` against `tokens` inputs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CpuKernel {
    pub ty: String,
    /// `f32` or `int8`.
    pub inputs: String,
    pub rows: u32,
    pub cols: u32,
    pub tokens: u32,
    pub weight_bytes_per_s: f64,
    pub weights_per_ns_per_token: f64,
}

/// `xtask bench` on one model, or why it was not measured.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NativeRun {
    /// What the model is, in words.
    pub model: String,
    #[serde(flatten)]
    pub outcome: NativeOutcome,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NativeOutcome {
    Measured(Box<NativeReport>),
    Skipped(String),
}

/// One decode step in its parts: recording and submitting the commands, waiting for the GPU
/// to run them and map the result, against an empty submit's round trip.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DecodeStep {
    pub steps: u32,
    pub dispatches: u64,
    pub record_s: f64,
    pub wait_s: f64,
    pub empty_round_trip_s: f64,
    /// One more step with each stage submitted alone (absent in reports from before).
    #[serde(default)]
    pub stages: Vec<DecodeStage>,
    /// One more step with each stage a pass of its own, all in one submit, timed by GPU
    /// timestamps (`submits` counts passes; absent in reports from before, and where the
    /// adapter has no timestamp queries).
    #[serde(default)]
    pub gpu_stages: Vec<DecodeStage>,
}

/// One kind of stage of a decode step (all layers' together), submitted alone and waited for.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DecodeStage {
    pub name: String,
    pub seconds: f64,
    pub dispatches: u64,
    pub submits: u64,
}

impl DecodeStage {
    /// The stage's GPU work: its time less one empty round trip per submit (never below 0).
    pub fn work_s(&self, empty_round_trip_s: f64) -> f64 {
        (self.seconds - self.submits as f64 * empty_round_trip_s).max(0.0)
    }
}

/// The JSON `xtask bench` writes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NativeReport {
    pub adapter: NativeAdapter,
    pub prompt_tokens: u32,
    pub decode_tokens: u32,
    pub load_s: f64,
    pub prefill_tok_s: f64,
    pub decode_tok_s: f64,
    /// Where a decode step's time goes (absent in reports from before it was measured).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decode_step: Option<DecodeStep>,
    pub weight_bytes_ratio: f64,
    pub gemv: Vec<Gemv>,
    /// A decode step's attention per layer by context length (GPU adapters; absent in reports
    /// from before it was measured).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attention: Vec<AttentionTiming>,
    #[serde(flatten)]
    pub rest: Map<String, Value>,
}

/// One decode attention measurement: a layer's time at `positions` positions, split `splits`
/// ways, by the engine's rule or by a fixed count.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AttentionTiming {
    pub positions: u32,
    pub engine_rule: bool,
    pub splits: u32,
    pub seconds_per_layer: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NativeAdapter {
    pub name: String,
    pub backend: String,
    pub driver: String,
}

/// One GEMV-vs-copy measurement.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Gemv {
    #[serde(rename = "type")]
    pub ty: String,
    pub layout: String,
    pub used_by_engine: bool,
    pub rows: u32,
    pub cols: u32,
    pub gemv_bytes_per_s: f64,
    pub copy_bytes_per_s: f64,
    pub gemv_over_copy: f64,
    #[serde(flatten)]
    pub rest: Map<String, Value>,
}

/// The JSON `tests/bench/browser.mjs` writes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BrowserReport {
    pub date: String,
    pub model: BrowserModel,
    pub workload: Workload,
    pub environment: Environment,
    pub runs: Vec<BrowserRun>,
    pub ratios: Vec<Ratio>,
    pub notes: Vec<String>,
    #[serde(flatten)]
    pub rest: Map<String, Value>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BrowserModel {
    pub name: String,
    pub bytes: u64,
    #[serde(flatten)]
    pub rest: Map<String, Value>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Workload {
    pub messages: Vec<Message>,
    pub new_tokens: u32,
    #[serde(flatten)]
    pub rest: Map<String, Value>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Message {
    pub role: String,
    pub content: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Environment {
    pub chromium: Option<String>,
    pub webgpu_adapter: Option<WebGpuAdapter>,
    pub cpu_count: u32,
    pub cpu_model: Option<String>,
    pub memory_bytes: u64,
    pub os: String,
    /// The machine's 1, 5 and 15 minute load averages before and after the browser run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load_average_start: Option<Vec<f64>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load_average_end: Option<Vec<f64>>,
    #[serde(flatten)]
    pub rest: Map<String, Value>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WebGpuAdapter {
    pub vendor: String,
    pub architecture: String,
    #[serde(flatten)]
    pub rest: Map<String, Value>,
}

/// One engine (and backend) in the browser.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BrowserRun {
    pub id: String,
    pub engine: String,
    pub label: String,
    pub requested_backend: String,
    pub runs_on: String,
    pub load: Load,
    pub generation: Generation,
    #[serde(flatten)]
    pub rest: Map<String, Value>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Load {
    pub cold_ms: f64,
    pub warm_ms: f64,
    #[serde(flatten)]
    pub rest: Map<String, Value>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Generation {
    pub prompt_tokens: u32,
    pub new_tokens: u32,
    pub ttft_ms: f64,
    pub prefill_tok_s: f64,
    pub decode_tok_s: Option<f64>,
    pub text: String,
    #[serde(flatten)]
    pub rest: Map<String, Value>,
}

/// Hearth ÷ wllama for one pair of runs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Ratio {
    pub label: String,
    pub decode_tok_s: Option<f64>,
    pub prefill_tok_s: Option<f64>,
    pub ttft_ms: Option<f64>,
    pub warm_load_ms: Option<f64>,
    #[serde(flatten)]
    pub rest: Map<String, Value>,
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = include_str!("sample.json");

    #[test]
    fn fields_the_rendering_does_not_name_survive_a_round_trip() {
        let b: Benchmarks = serde_json::from_str(SAMPLE).unwrap();
        let again: Value = serde_json::from_str(&serde_json::to_string(&b).unwrap()).unwrap();
        let original: Value = serde_json::from_str(SAMPLE).unwrap();
        assert_eq!(again, original);
        assert!(matches!(b.native[1].outcome, NativeOutcome::Skipped(_)));
    }
}

/// One run of `scripts/gpu-bench.sh` on a machine with a real GPU (this one has none), as
/// `docs/gpu/*.json` holds it: `xtask bench` on the synthetic Llama-3.2-1B shape there.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GpuRecord {
    /// The card as its driver names it, with its memory, driver and clocks.
    pub card: String,
    pub date: String,
    /// The commit the binaries were built from.
    pub commit: String,
    pub command: String,
    /// The SM clocks sampled while the bench ran (how often each was seen).
    pub sm_clock: String,
    /// A long prompt's run (with the GEMV measurements), then a short one's.
    pub runs: Vec<NativeReport>,
}

impl NativeReport {
    /// A number `xtask bench` writes that the rendering does not name (absent in older
    /// reports).
    pub fn extra(&self, key: &str) -> Option<f64> {
        self.rest.get(key).and_then(Value::as_f64)
    }
}
