//! Browser entry point of the dedicated worker: receives `ToWorker` messages from the page and
//! answers with `FromWorker`. `public/worker.js` calls [`start`] once the wasm is initialised.
//!
//! Requests run one at a time in arrival order (a load, then replies), except `cancel`, which
//! acts at once: it marks the request so the running loop stops at its next token or chunk, and
//! the WebGPU self-test the page sends when it starts, which runs beside the queue so that a
//! load asked for at once does not wait for it (a CPU load needs no GPU at all).

mod backend;
mod errors;
mod fetch;
mod model_load;
mod reply;
mod self_test;

use crate::gpu::GpuContext;
use crate::session::ChatSession;
use backend::LoadedModel;
use errors::{gpu_error, Failure};
use hearth_protocol::RunsOn;
use hearth_protocol::{ErrorKind, FromWorker, ToWorker};
use std::cell::RefCell;
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use wasm_bindgen::prelude::*;
use web_sys::{DedicatedWorkerGlobalScope, MessageEvent};

#[derive(Default)]
struct State {
    gpu: Option<Arc<GpuContext>>,
    /// While a request acquires the GPU device: the others that asked for it meanwhile, woken
    /// when it is done (so there is only ever one device).
    gpu_waiters: Option<Vec<futures_channel::oneshot::Sender<()>>>,
    /// `None` while a request has taken it out to run.
    session: Option<ChatSession<LoadedModel>>,
    queue: VecDeque<ToWorker>,
    busy: bool,
    cancelled: HashSet<u32>,
    /// Local files of queued `LoadFile` requests, by request id.
    files: HashMap<u32, web_sys::Blob>,
}

thread_local! {
    static STATE: RefCell<State> = RefCell::new(State::default());
}

fn scope() -> DedicatedWorkerGlobalScope {
    js_sys::global().unchecked_into()
}

fn post(message: &FromWorker) {
    match serde_wasm_bindgen::to_value(message) {
        Ok(value) => {
            if let Err(e) = scope().post_message(&value) {
                web_sys::console::error_2(&"worker: postMessage failed".into(), &e);
            }
        }
        Err(e) => {
            web_sys::console::error_1(&format!("worker: cannot encode {message:?}: {e}").into())
        }
    }
}

fn post_error(id: Option<u32>, failure: Failure) {
    post(&FromWorker::Error {
        id,
        kind: failure.kind,
        message: failure.message,
    });
}

/// Whether request `id` was cancelled.
fn is_cancelled(id: u32) -> bool {
    STATE.with(|s| s.borrow().cancelled.contains(&id))
}

/// Installs the message handler and tells the page the worker is ready.
#[wasm_bindgen]
pub fn start() {
    let on_message = Closure::<dyn FnMut(MessageEvent)>::new(|event: MessageEvent| {
        let data = event.data();
        let file = take_file(&data);
        match serde_wasm_bindgen::from_value::<ToWorker>(data) {
            Ok(request) => {
                if let (ToWorker::LoadFile { id, .. }, Some(file)) = (&request, file) {
                    STATE.with(|s| s.borrow_mut().files.insert(*id, file));
                }
                receive(request)
            }
            Err(e) => post_error(
                None,
                Failure::new(
                    ErrorKind::Other,
                    format!("the worker received a message it does not understand: {e}"),
                ),
            ),
        }
    });
    scope().set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    // The handler lives as long as the worker.
    on_message.forget();
    post(&FromWorker::Ready);
}

/// A `File` (or any `Blob`) riding in the message's `file` field, taken out so that serde
/// reads the rest.
fn take_file(data: &JsValue) -> Option<web_sys::Blob> {
    if !data.is_object() {
        return None;
    }
    let key = JsValue::from_str("file");
    let file: web_sys::Blob = js_sys::Reflect::get(data, &key).ok()?.dyn_into().ok()?;
    let _ = js_sys::Reflect::delete_property(data.unchecked_ref::<js_sys::Object>(), &key);
    Some(file)
}

/// The end of a load: the new model becomes the session and the page hears `loaded`, or the
/// page hears what went wrong.
fn keep_loaded(id: u32, result: Result<(ChatSession<LoadedModel>, FromWorker), Failure>) {
    match result {
        Ok((session, reply)) => {
            STATE.with(|s| s.borrow_mut().session = Some(session));
            post(&reply);
        }
        Err(f) => post_error(Some(id), f),
    }
}

fn receive(request: ToWorker) {
    if let ToWorker::Cancel { id } = request {
        cancel(id);
        return;
    }
    if let ToWorker::GpuSelfTest { .. } = request {
        wasm_bindgen_futures::spawn_local(handle(request));
        return;
    }
    let start = STATE.with(|s| {
        let mut s = s.borrow_mut();
        s.queue.push_back(request);
        !std::mem::replace(&mut s.busy, true)
    });
    if start {
        wasm_bindgen_futures::spawn_local(drain());
    }
}

/// A queued request is answered as cancelled at once; a running one stops at its next step.
fn cancel(id: u32) {
    let queued = STATE.with(|s| {
        let mut s = s.borrow_mut();
        s.cancelled.insert(id);
        let before = s.queue.len();
        s.queue.retain(|r| request_id(r) != Some(id));
        s.files.remove(&id);
        before != s.queue.len()
    });
    if queued {
        post_error(
            Some(id),
            Failure::new(ErrorKind::Cancelled, "cancelled before it started".into()),
        );
    }
}

fn request_id(request: &ToWorker) -> Option<u32> {
    match request {
        ToWorker::GpuSelfTest { id, .. }
        | ToWorker::LoadModel { id, .. }
        | ToWorker::LoadFile { id, .. }
        | ToWorker::Unload { id }
        | ToWorker::Generate { id, .. }
        | ToWorker::Cancel { id } => Some(*id),
    }
}

async fn drain() {
    loop {
        let Some(request) = STATE.with(|s| s.borrow_mut().queue.pop_front()) else {
            STATE.with(|s| s.borrow_mut().busy = false);
            return;
        };
        let id = request_id(&request);
        handle(request).await;
        if let Some(id) = id {
            STATE.with(|s| s.borrow_mut().cancelled.remove(&id));
        }
    }
}

async fn handle(request: ToWorker) {
    match request {
        ToWorker::GpuSelfTest { id, a, b } => {
            let result = async {
                let gpu = gpu().await?;
                self_test::gpu_self_test(&gpu, &a, &b)
                    .await
                    .map_err(|e| Failure::new(ErrorKind::Other, e.to_string()))
            }
            .await;
            match result {
                Ok((adapter, sum)) => post(&FromWorker::GpuSelfTest { id, adapter, sum }),
                Err(f) => post_error(Some(id), f),
            }
        }
        ToWorker::LoadModel {
            id,
            manifest_url,
            backend,
        } => {
            // The old model's memory is freed before the new one is allocated.
            STATE.with(|s| s.borrow_mut().session = None);
            let result = model_load::load(id, backend, &manifest_url).await;
            keep_loaded(id, result);
        }
        ToWorker::LoadFile {
            id,
            name,
            size,
            backend,
        } => {
            STATE.with(|s| s.borrow_mut().session = None);
            let Some(file) = STATE.with(|s| s.borrow_mut().files.remove(&id)) else {
                post_error(
                    Some(id),
                    Failure::new(
                        ErrorKind::Other,
                        "the file did not reach the engine; choose it again".into(),
                    ),
                );
                return;
            };
            let result = model_load::load_file(id, backend, &file, &name, size).await;
            keep_loaded(id, result);
        }
        ToWorker::Unload { id } => {
            // Dropping the model destroys its GPU buffers.
            STATE.with(|s| s.borrow_mut().session = None);
            post(&FromWorker::Unloaded { id });
        }
        ToWorker::Generate {
            id,
            messages,
            settings,
        } => {
            let Some(mut session) = STATE.with(|s| s.borrow_mut().session.take()) else {
                post_error(
                    Some(id),
                    Failure::new(ErrorKind::Other, "no model is loaded yet".into()),
                );
                return;
            };
            let result = reply::generate(id, &mut session, &messages, &settings).await;
            STATE.with(|s| {
                let mut s = s.borrow_mut();
                // A model on a lost device is not put back.
                if s.gpu.is_some() || session.model().runs_on() == RunsOn::Cpu {
                    s.session = Some(session);
                }
            });
            match result {
                Ok(stats) => post(&FromWorker::Done { id, stats }),
                Err(f) => post_error(Some(id), f),
            }
        }
        ToWorker::Cancel { .. } => {}
    }
}

/// The GPU device, acquired on first use. A lost device is forgotten (with the model on it),
/// so the next request starts afresh.
async fn gpu() -> Result<Arc<GpuContext>, Failure> {
    loop {
        // Taken, or being acquired by another request (the self-test runs beside the queue):
        // wait for that one, then look again (after a failure, this request tries itself).
        let wait = STATE.with(|s| {
            let mut s = s.borrow_mut();
            if let Some(gpu) = &s.gpu {
                return Err(gpu.clone());
            }
            Ok(match &mut s.gpu_waiters {
                Some(waiters) => {
                    let (tx, rx) = futures_channel::oneshot::channel();
                    waiters.push(tx);
                    Some(rx)
                }
                None => {
                    s.gpu_waiters = Some(Vec::new());
                    None
                }
            })
        });
        match wait {
            Err(gpu) => return Ok(gpu),
            Ok(Some(done)) => {
                let _ = done.await;
            }
            Ok(None) => break,
        }
    }
    let result = acquire_gpu().await;
    let waiters = STATE.with(|s| {
        let mut s = s.borrow_mut();
        if let Ok(gpu) = &result {
            s.gpu = Some(gpu.clone());
        }
        s.gpu_waiters.take().unwrap_or_default()
    });
    for waiter in waiters {
        let _ = waiter.send(());
    }
    result
}

/// Requests the adapter and device, and routes their errors and loss to the page.
async fn acquire_gpu() -> Result<Arc<GpuContext>, Failure> {
    // The engine's API takes an `Arc` (natively it is shared across threads); in the browser
    // there is one thread and WebGPU handles are not `Send`.
    #[allow(clippy::arc_with_non_send_sync)]
    let gpu = Arc::new(GpuContext::new().await.map_err(gpu_error)?);
    gpu.device
        .on_uncaptured_error(Arc::new(|error: wgpu::Error| {
            // wgpu's default handler panics, which would kill the worker.
            errors::record_gpu_error(error.to_string());
        }));
    gpu.device.set_device_lost_callback(|reason, message| {
        STATE.with(|s| {
            let mut s = s.borrow_mut();
            s.gpu = None;
            // A model on the CPU does not need the GPU.
            if s.session
                .as_ref()
                .is_some_and(|m| m.model().runs_on() == RunsOn::Gpu)
            {
                s.session = None;
            }
        });
        post_error(
            None,
            Failure::new(
                ErrorKind::DeviceLost,
                format!("the GPU device was lost ({reason:?}: {message})"),
            ),
        );
    });
    Ok(gpu)
}
