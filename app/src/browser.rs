//! The page's entry points, called from `public/app.js`.

use crate::describe::adapter_line;
use crate::dom::{js_error_text, set_state, set_text};
use crate::engine::Engine;
use crate::service_worker::register_and_wait_for_control;
use hearth_protocol::{FromWorker, ToWorker};
use js_sys::{Function, Promise};
use std::cell::RefCell;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

thread_local! {
    static ENGINE: RefCell<Option<Engine>> = const { RefCell::new(None) };
}

/// Starts the app: offline support first, then the engine, then a check that WebGPU computes.
#[wasm_bindgen]
pub async fn start() -> Result<(), JsValue> {
    crate::pwa::init();
    crate::chat::mount();
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

    start_engine(|| set_text("gpu-status", "Waiting for Hearth in another tab to close…")).await?;
    crate::models::start();

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
        Err(e) => no_webgpu_status(&e),
    }
    Ok(())
}

/// The start-up line when the GPU check failed. Without WebGPU the model runs on the CPU
/// (unless the user asked for the GPU only), so that is said softly, not as an error.
fn no_webgpu_status(e: &JsValue) {
    use crate::models::advice::{CPU_SETTING_HELP, WEBGPU_HELP};
    let missing = js_sys::Reflect::get(e, &"kind".into())
        .ok()
        .and_then(|k| serde_wasm_bindgen::from_value::<hearth_protocol::ErrorKind>(k).ok())
        == Some(hearth_protocol::ErrorKind::NoWebGpu);
    let why = js_error_text(e);
    if missing && crate::models::backend_choice() != hearth_protocol::Backend::Gpu {
        set_state("gpu-status", "cpu");
        set_text(
            "gpu-status",
            "This browser has no WebGPU, so models run on the CPU (WebAssembly): slower, but they work.",
        );
        if let Some(el) = crate::dom::element::<web_sys::Element>("gpu-status") {
            let _ = el.set_attribute("title", &why);
        }
    } else {
        set_state("gpu-status", "error");
        set_text(
            "gpu-status",
            &format!("WebGPU is not available: {why}. {WEBGPU_HELP} {CPU_SETTING_HELP}"),
        );
    }
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

/// The engine, once started.
pub fn engine() -> Option<Engine> {
    ENGINE.with(|e| e.borrow().clone())
}

/// Takes the engine lock (waiting while another tab owns the engine; `on_waiting` runs then),
/// and spawns the engine worker. If another tab later takes the engine over, this page's
/// worker is stopped so its GPU memory is freed.
pub(crate) async fn start_engine(on_waiting: impl FnOnce()) -> Result<(), JsValue> {
    crate::engine_owner::acquire(
        on_waiting,
        std::rc::Rc::new(|| {
            if let Some(engine) = ENGINE.with(|e| e.borrow_mut().take()) {
                engine.terminate();
            }
            crate::engine_owner::show_lost();
        }),
    )
    .await?;
    let engine = Engine::spawn()?;
    ENGINE.with(|e| *e.borrow_mut() = Some(engine));
    Ok(())
}

/// Starts the embed (`embed.html`): the engine with the deployment's default model, driven by
/// its own prompt box and by allowed host pages through postMessage.
#[wasm_bindgen]
pub async fn start_embed() -> Result<(), JsValue> {
    crate::embed::start().await
}

pub(crate) fn with_engine(f: impl FnOnce(&Engine) -> Promise) -> Promise {
    ENGINE.with(|e| match e.borrow().as_ref() {
        Some(engine) => f(engine),
        None => Promise::reject(&js_sys::Error::new("the engine has not started")),
    })
}

/// The deployment's models: `[{id, manifest_url, model, size}]`.
#[wasm_bindgen]
pub async fn catalog() -> Result<JsValue, JsValue> {
    let models = crate::models::catalog().await?;
    Ok(serde_wasm_bindgen::to_value(&models)?)
}

/// What the service worker has stored of each known model.
#[wasm_bindgen]
pub async fn cache_status() -> Result<JsValue, JsValue> {
    Ok(serde_wasm_bindgen::to_value(
        &crate::models::cached_models().await,
    )?)
}

/// Any control message to the service worker (`{type: ...}`), answered with its reply.
#[wasm_bindgen]
pub async fn ask_service_worker(request: JsValue) -> Result<JsValue, JsValue> {
    let request: hearth_protocol::SwRequest = serde_wasm_bindgen::from_value(request)?;
    let reply = crate::service_worker::ask(&request).await?;
    Ok(serde_wasm_bindgen::to_value(&reply)?)
}

/// Checks storage, then loads the model at `manifest_url` in the engine. `on_event` gets
/// `load_progress` events; resolves with the `loaded` reply, rejects with an `Error` whose
/// `kind` says what went wrong. `options` may name the backend: `{backend: "auto" | "gpu" |
/// "cpu"}` (default `auto`; tests also use `"gpu_hardware_layout"`, see `Backend`).
#[wasm_bindgen]
pub async fn load_model(
    manifest_url: String,
    on_event: Option<Function>,
    options: JsValue,
) -> Result<JsValue, JsValue> {
    let backend = load_options(options)?.backend;
    use crate::models::readiness::{announce, Readiness};
    announce(Readiness::Loading, &manifest_url, "", None);
    let loaded = async {
        crate::models::check_storage(&manifest_url).await?;
        let url = manifest_url.clone();
        let promise = with_engine(|engine| {
            engine.request_with_events(
                |id| ToWorker::LoadModel {
                    id,
                    manifest_url: url,
                    backend,
                },
                on_event,
            )
        });
        JsFuture::from(promise).await
    }
    .await;
    match loaded
        .as_ref()
        .map(|v| serde_wasm_bindgen::from_value::<FromWorker>(v.clone()))
    {
        Ok(Ok(FromWorker::Loaded {
            model,
            context,
            runs_on,
            adapter,
            fallback,
            ..
        })) => crate::models::loaded_by_script(
            &manifest_url,
            &model.name,
            context,
            &crate::models::backend::Placement::new(runs_on, adapter.as_ref(), fallback.as_ref()),
        ),
        _ => announce(Readiness::Error, &manifest_url, "", None),
    }
    loaded
}

/// What a script may ask of a load.
#[derive(serde::Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
struct LoadOptions {
    backend: hearth_protocol::Backend,
}

fn load_options(options: JsValue) -> Result<LoadOptions, JsValue> {
    if options.is_undefined() || options.is_null() {
        return Ok(LoadOptions::default());
    }
    serde_wasm_bindgen::from_value(options)
        .map_err(|e| js_sys::Error::new(&format!("bad load options: {e}")).into())
}

/// Adds the conversations of a JSON export to the stored ones; resolves with how many.
#[wasm_bindgen]
pub async fn import_conversations(json: String) -> Result<u32, JsValue> {
    crate::chat::import(&json)
        .await
        .map(|n| n as u32)
        .map_err(|e| js_sys::Error::new(&e).into())
}

/// Generates a reply to `messages` (`[{role, content}]`) with `settings` (any of
/// temperature, top_k, top_p, repetition_penalty, max_tokens, seed). `on_event` gets `token`
/// events as text arrives; resolves with the `done` reply and its stats.
#[wasm_bindgen]
pub fn generate(messages: JsValue, settings: JsValue, on_event: Option<Function>) -> Promise {
    let messages: Vec<hearth_protocol::ChatMessage> = match serde_wasm_bindgen::from_value(messages)
    {
        Ok(m) => m,
        Err(e) => return Promise::reject(&js_sys::Error::new(&e.to_string())),
    };
    let settings: hearth_protocol::GenerateSettings =
        if settings.is_undefined() || settings.is_null() {
            Default::default()
        } else {
            match serde_wasm_bindgen::from_value(settings) {
                Ok(s) => s,
                Err(e) => return Promise::reject(&js_sys::Error::new(&e.to_string())),
            }
        };
    with_engine(|engine| {
        engine.request_with_events(
            |id| ToWorker::Generate {
                id,
                messages,
                settings,
            },
            on_event,
        )
    })
}

/// Drops the loaded model and frees its GPU memory; resolves with `{type: 'unloaded', id}`.
#[wasm_bindgen]
pub fn unload_model() -> Promise {
    with_engine(|engine| engine.request(|id| ToWorker::Unload { id }))
}

/// Stops request `id` (a load or a reply; ids arrive with its events).
#[wasm_bindgen]
pub fn cancel(id: u32) {
    ENGINE.with(|e| {
        if let Some(engine) = e.borrow().as_ref() {
            engine.cancel(id);
        }
    });
}
