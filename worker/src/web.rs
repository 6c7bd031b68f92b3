//! Browser entry point of the dedicated worker: receives `ToWorker` messages from the page and
//! answers with `FromWorker`. `public/worker.js` calls [`start`] once the wasm is initialised.

use crate::gpu::{kernels::ResidualAdd, read_buffer, GpuContext, GpuError};
use hearth_protocol::{FromWorker, ToWorker};
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use web_sys::{DedicatedWorkerGlobalScope, MessageEvent};
use wgpu::util::DeviceExt;

thread_local! {
    static GPU: RefCell<Option<Rc<GpuContext>>> = const { RefCell::new(None) };
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

/// Installs the message handler and tells the page the worker is ready.
#[wasm_bindgen]
pub fn start() {
    let on_message = Closure::<dyn FnMut(MessageEvent)>::new(|event: MessageEvent| {
        match serde_wasm_bindgen::from_value::<ToWorker>(event.data()) {
            Ok(request) => wasm_bindgen_futures::spawn_local(handle(request)),
            Err(e) => post(&FromWorker::Error {
                id: None,
                kind: hearth_protocol::ErrorKind::Other,
                message: format!("the worker received a message it does not understand: {e}"),
            }),
        }
    });
    scope().set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    // The handler lives as long as the worker.
    on_message.forget();
    post(&FromWorker::Ready);
}

async fn handle(request: ToWorker) {
    #[allow(clippy::single_match)]
    match request {
        ToWorker::GpuSelfTest { id, a, b } => {
            let reply = match gpu_self_test(&a, &b).await {
                Ok((adapter, sum)) => FromWorker::GpuSelfTest { id, adapter, sum },
                Err(e) => FromWorker::Error {
                    id: Some(id),
                    kind: hearth_protocol::ErrorKind::Other,
                    message: e.to_string(),
                },
            };
            post(&reply);
        }
        _ => {}
    }
}

async fn gpu() -> Result<Rc<GpuContext>, GpuError> {
    if let Some(gpu) = GPU.with(|g| g.borrow().clone()) {
        return Ok(gpu);
    }
    let gpu = Rc::new(GpuContext::new().await?);
    GPU.with(|g| *g.borrow_mut() = Some(gpu.clone()));
    Ok(gpu)
}

#[derive(Debug, thiserror::Error)]
enum SelfTestError {
    #[error(transparent)]
    Gpu(#[from] GpuError),
    #[error("the two vectors differ in length ({0} and {1})")]
    Shape(usize, usize),
}

async fn gpu_self_test(
    a: &[f32],
    b: &[f32],
) -> Result<(hearth_protocol::AdapterSummary, Vec<f32>), SelfTestError> {
    if a.len() != b.len() || a.is_empty() {
        return Err(SelfTestError::Shape(a.len(), b.len()));
    }
    let gpu = gpu().await?;
    let usage = wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC;
    let x = gpu
        .device
        .create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some("self-test x"),
            contents: bytemuck::cast_slice(a),
            usage,
        });
    let y = gpu
        .device
        .create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some("self-test y"),
            contents: bytemuck::cast_slice(b),
            usage,
        });
    let kernel = ResidualAdd::new(&gpu.device);
    let mut encoder = gpu.device.create_command_encoder(&Default::default());
    kernel.encode(
        &gpu.device,
        &gpu.limits,
        &mut encoder,
        &x,
        &y,
        a.len() as u32,
    );
    gpu.queue.submit([encoder.finish()]);
    let bytes = read_buffer(&gpu, &x, (a.len() * 4) as u64).await?;
    Ok((gpu.summary(), bytemuck::cast_slice(&bytes).to_vec()))
}
