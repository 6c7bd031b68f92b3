//! Where a model runs in the browser: on the GPU through WebGPU, or on the CPU in wasm. The
//! choice is made once per load, before the first byte is streamed, from what the page asked
//! for and what this browser has.

use super::errors::{engine_error, Failure};
use crate::cpu::quantized::{CpuLoader, QuantizedModel};
use crate::engine::{EngineError, GpuModel, LoadOptions, ModelLoader, DEFAULT_MAX_CONTEXT};
use crate::gguf::GgufHeader;
use crate::gpu::kernels::MatmulLayout;
use crate::gpu::GpuContext;
use crate::sampler::Candidates;
use crate::session::LanguageModel;
use hearth_protocol::{AdapterSummary, Backend, ErrorKind, Fallback, FallbackReason, RunsOn};
use std::sync::Arc;

/// Prompt tokens the CPU runs between two looks at the worker's messages, so a cancel is
/// heard during a long prefill.
const CPU_PREFILL_STEP: usize = 16;

/// A model being streamed in.
pub enum Loader {
    Gpu(ModelLoader, Arc<GpuContext>),
    Cpu(CpuLoader),
}

/// Picks the backend for a load of a file of `file_len` bytes. `Auto` takes the GPU when the
/// browser has a hardware adapter; without WebGPU, or when the adapter is itself a CPU
/// emulation (slower than the CPU engine), it takes the CPU and says why.
pub async fn choose(
    backend: Backend,
    file_len: u64,
) -> Result<(Loader, Option<Fallback>), Failure> {
    let gpu_with = |ctx: Arc<GpuContext>, options| {
        let loader = ModelLoader::new(ctx.clone(), Some(file_len), options);
        Loader::Gpu(loader, ctx)
    };
    let gpu = |ctx| gpu_with(ctx, LoadOptions::default());
    let cpu = || Loader::Cpu(CpuLoader::new(Some(file_len), Some(DEFAULT_MAX_CONTEXT)));
    match backend {
        Backend::Gpu => Ok((gpu(super::gpu().await?), None)),
        Backend::GpuHardwareLayout => {
            let options = LoadOptions {
                layout: Some(MatmulLayout::Cooperative),
                ..LoadOptions::default()
            };
            Ok((gpu_with(super::gpu().await?, options), None))
        }
        Backend::Cpu => Ok((cpu(), None)),
        Backend::Auto => match super::gpu().await {
            Ok(ctx) if ctx.is_software() => Ok((
                cpu(),
                Some(Fallback {
                    reason: FallbackReason::SoftwareAdapter,
                    detail: ctx.summary().name,
                }),
            )),
            Ok(ctx) => Ok((gpu(ctx), None)),
            Err(f) if f.kind == ErrorKind::NoWebGpu => Ok((
                cpu(),
                Some(Fallback {
                    reason: FallbackReason::NoWebGpu,
                    detail: f.message,
                }),
            )),
            Err(f) => Err(f),
        },
    }
}

impl Loader {
    pub fn push(&mut self, bytes: &[u8]) -> Result<(), EngineError> {
        match self {
            Loader::Gpu(l, _) => l.push(bytes),
            Loader::Cpu(l) => l.push(bytes),
        }
    }

    pub fn header(&self) -> Option<&GgufHeader> {
        match self {
            Loader::Gpu(l, _) => l.header(),
            Loader::Cpu(l) => l.header(),
        }
    }

    /// Builds the model; on the GPU, after the queued uploads ran (so a late failure, such as
    /// running out of GPU memory, shows here).
    pub async fn finish(self) -> Result<(LoadedModel, Option<AdapterSummary>), Failure> {
        match self {
            Loader::Gpu(loader, gpu) => {
                let model = loader.finish().map_err(engine_error)?;
                crate::gpu::wait_idle(&gpu).await;
                if let Some(f) = super::errors::take_gpu_error() {
                    return Err(f);
                }
                Ok((LoadedModel::Gpu(Box::new(model)), Some(gpu.summary())))
            }
            Loader::Cpu(loader) => Ok((
                LoadedModel::Cpu(loader.finish().map_err(engine_error)?),
                None,
            )),
        }
    }
}

/// A loaded model, wherever it runs.
pub enum LoadedModel {
    Gpu(Box<GpuModel>),
    Cpu(QuantizedModel),
}

impl LoadedModel {
    pub fn runs_on(&self) -> RunsOn {
        match self {
            LoadedModel::Gpu(_) => RunsOn::Gpu,
            LoadedModel::Cpu(_) => RunsOn::Cpu,
        }
    }
}

impl LanguageModel for LoadedModel {
    fn vocab_size(&self) -> usize {
        match self {
            LoadedModel::Gpu(m) => m.as_ref().vocab_size(),
            LoadedModel::Cpu(m) => m.vocab_size(),
        }
    }

    fn capacity(&self) -> usize {
        match self {
            LoadedModel::Gpu(m) => LanguageModel::capacity(m.as_ref()),
            LoadedModel::Cpu(m) => m.capacity(),
        }
    }

    fn max_k(&self) -> usize {
        match self {
            LoadedModel::Gpu(m) => LanguageModel::max_k(m.as_ref()),
            LoadedModel::Cpu(m) => m.max_k(),
        }
    }

    /// The CPU computes without awaiting anything, so it hands the thread back to the event
    /// loop between steps: the page's messages (a cancel) are heard.
    async fn forward(
        &mut self,
        tokens: &[u32],
        start_pos: usize,
        k: usize,
    ) -> Result<Candidates, EngineError> {
        match self {
            LoadedModel::Gpu(m) => LanguageModel::forward(m.as_mut(), tokens, start_pos, k).await,
            LoadedModel::Cpu(m) => {
                let split = tokens.len().saturating_sub(1) / CPU_PREFILL_STEP * CPU_PREFILL_STEP;
                let (head, last) = tokens.split_at(split);
                m.cache.truncate(start_pos);
                for (i, step) in head.chunks(CPU_PREFILL_STEP).enumerate() {
                    m.forward_batch(step, start_pos + i * CPU_PREFILL_STEP)?;
                    yield_to_events().await;
                }
                let candidates = LanguageModel::forward(m, last, start_pos + split, k).await;
                yield_to_events().await;
                candidates
            }
        }
    }
}

/// Resolves after the worker's queued events (messages from the page) had their turn. A
/// `MessageChannel` round trip, unlike `setTimeout`, is not clamped to 4 ms.
async fn yield_to_events() {
    use wasm_bindgen::JsCast;
    let Ok(channel) = web_sys::MessageChannel::new() else {
        return;
    };
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        channel.port1().set_onmessage(Some(resolve.unchecked_ref()));
    });
    if channel
        .port2()
        .post_message(&wasm_bindgen::JsValue::UNDEFINED)
        .is_ok()
    {
        let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
    }
    channel.port1().set_onmessage(None);
}
