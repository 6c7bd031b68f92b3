//! Failures as the page sees them: a kind it can act on and a message in plain words.

use crate::engine::EngineError;
use crate::gpu::{GpuError, WeightError};
use crate::session::SessionError;
use hearth_protocol::ErrorKind;
use std::cell::RefCell;

pub struct Failure {
    pub kind: ErrorKind,
    pub message: String,
}

impl Failure {
    pub fn new(kind: ErrorKind, message: String) -> Self {
        Self { kind, message }
    }
}

thread_local! {
    /// WebGPU errors nobody awaited (validation, out of memory), newest last.
    static GPU_ERRORS: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
}

pub fn record_gpu_error(message: String) {
    web_sys::console::error_1(&format!("WebGPU error: {message}").into());
    GPU_ERRORS.with(|e| {
        let mut e = e.borrow_mut();
        if e.len() < 16 {
            e.push(message);
        }
    });
}

/// The first WebGPU error since the last call, as a failure: running out of GPU memory
/// means this device is too small for the model.
pub fn take_gpu_error() -> Option<Failure> {
    let errors = GPU_ERRORS.with(|e| std::mem::take(&mut *e.borrow_mut()));
    let first = errors.into_iter().next()?;
    let lower = first.to_lowercase();
    Some(
        if lower.contains("out of memory") || lower.contains("outofmemory") {
            Failure::new(
                ErrorKind::DeviceTooSmall,
                format!("the GPU ran out of memory for this model ({first})"),
            )
        } else {
            Failure::new(ErrorKind::Other, format!("a GPU operation failed: {first}"))
        },
    )
}

pub fn gpu_error(e: GpuError) -> Failure {
    let kind = match e {
        GpuError::NoAdapter(_) | GpuError::NoDevice(_) => ErrorKind::NoWebGpu,
        GpuError::Readback(_) => ErrorKind::Other,
    };
    Failure::new(kind, e.to_string())
}

pub fn engine_error(e: EngineError) -> Failure {
    match e {
        EngineError::Gpu(e) => gpu_error(e),
        EngineError::Weight(e @ WeightError::TooLarge { .. }) => Failure::new(
            ErrorKind::DeviceTooSmall,
            format!("this GPU's buffer limits are too small for the model: {e}"),
        ),
        e @ EngineError::OutOfMemory { .. } => Failure::new(
            ErrorKind::DeviceTooSmall,
            format!("this device does not have the memory for the model: {e}"),
        ),
        e @ (EngineError::Model(_)
        | EngineError::Gguf(_)
        | EngineError::UnsupportedShape(_)
        | EngineError::Weight(_)) => {
            Failure::new(ErrorKind::Model, format!("the model cannot be used: {e}"))
        }
        e => Failure::new(ErrorKind::Other, e.to_string()),
    }
}

pub fn session_error(e: SessionError) -> Failure {
    match e {
        SessionError::Engine(e) => engine_error(e),
        e @ (SessionError::Chat(_) | SessionError::Tokenizer(_)) => {
            Failure::new(ErrorKind::Model, e.to_string())
        }
        e => Failure::new(ErrorKind::Other, e.to_string()),
    }
}
