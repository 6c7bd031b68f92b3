//! The page's entry points, called from `public/app.js`.

use crate::describe::adapter_line;
use crate::dom::{js_error_text, set_state, set_text};
use crate::engine::Engine;
use crate::service_worker::register_and_wait_for_control;
use hearth_protocol::{FromWorker, ToWorker};
use js_sys::Promise;
use std::cell::RefCell;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

thread_local! {
    static ENGINE: RefCell<Option<Engine>> = const { RefCell::new(None) };
}

/// Starts the app: offline support first, then the engine, then a check that WebGPU computes.
#[wasm_bindgen]
pub async fn start() -> Result<(), JsValue> {
    set_text("offline-status", "Preparing offline use…");
    match register_and_wait_for_control().await {
        Ok(()) => {
            set_state("offline-status", "ready");
            set_text(
                "offline-status",
                "Works offline: the app is stored on this device.",
            );
        }
        Err(e) => {
            // The app still runs without a service worker, it just will not open offline.
            set_state("offline-status", "unavailable");
            set_text(
                "offline-status",
                &format!("Offline use is unavailable: {}", js_error_text(&e)),
            );
        }
    }

    let engine = Engine::spawn()?;
    ENGINE.with(|e| *e.borrow_mut() = Some(engine));

    set_text("gpu-status", "Checking WebGPU…");
    let reply = JsFuture::from(gpu_self_test(vec![1.0, 2.0, 3.0], vec![0.5, 0.25, 0.125])).await;
    match reply.map(serde_wasm_bindgen::from_value::<FromWorker>) {
        Ok(Ok(FromWorker::GpuSelfTest { adapter, sum, .. })) if sum == [1.5, 2.25, 3.125] => {
            set_state("gpu-status", "ready");
            set_text("gpu-status", &adapter_line(&adapter));
        }
        Ok(Ok(other)) => {
            set_state("gpu-status", "error");
            set_text(
                "gpu-status",
                &format!("WebGPU computed a wrong result: {other:?}"),
            );
        }
        Ok(Err(e)) => {
            set_state("gpu-status", "error");
            set_text(
                "gpu-status",
                &format!("The engine replied in an unexpected way: {e}"),
            );
        }
        Err(e) => {
            set_state("gpu-status", "error");
            set_text(
                "gpu-status",
                &format!(
                    "WebGPU is not available: {}. Use a current Chrome, Edge or Safari; on Linux, start Chromium with --enable-unsafe-webgpu --enable-features=Vulkan.",
                    js_error_text(&e)
                ),
            );
        }
    }
    Ok(())
}

/// Adds `a` and `b` on the GPU through the engine worker (the residual-add kernel). Resolves
/// with `{type, id, adapter, sum}`; used by the start-up check and by the browser tests.
#[wasm_bindgen]
pub fn gpu_self_test(a: Vec<f32>, b: Vec<f32>) -> Promise {
    ENGINE.with(|e| match e.borrow().as_ref() {
        Some(engine) => engine.request(|id| ToWorker::GpuSelfTest { id, a, b }),
        None => Promise::reject(&js_sys::Error::new("the engine has not started")),
    })
}
