//! The model's readiness for the rest of the page: `document.body.dataset.model` is
//! `none|loading|ready|error` (with `modelId`, `modelName`, `modelContext` and, once ready,
//! `backend` (`gpu|cpu`) beside it), and a `hearth:model` event on `window` carries
//! `{state, id, name, context, backend, adapter, fallback, fallback_detail}` at every change
//! (`fallback`: `no_web_gpu` or `software_adapter` when an automatic load runs on the CPU).

use super::backend::{runs_on_str, Placement};
use crate::dom::{document, set_text, window};
use wasm_bindgen::prelude::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Readiness {
    None,
    Loading,
    Ready,
    Error,
}

impl Readiness {
    pub fn as_str(self) -> &'static str {
        match self {
            Readiness::None => "none",
            Readiness::Loading => "loading",
            Readiness::Ready => "ready",
            Readiness::Error => "error",
        }
    }
}

/// The window event announcing every change.
pub const EVENT: &str = "hearth:model";

/// Announces a state other than ready (which says where the model runs: [`announce_ready`]).
pub fn announce(state: Readiness, id: &str, name: &str, context: Option<u32>) {
    publish(state, id, name, context, None);
}

/// Announces a loaded model and where it runs.
pub fn announce_ready(id: &str, name: &str, context: u32, placement: &Placement) {
    publish(Readiness::Ready, id, name, Some(context), Some(placement));
}

fn publish(
    state: Readiness,
    id: &str,
    name: &str,
    context: Option<u32>,
    placement: Option<&Placement>,
) {
    let Some(body) = document().body() else {
        return;
    };
    let data = body.dataset();
    let _ = data.set("modelId", id);
    let _ = data.set("modelName", name);
    let _ = data.set(
        "modelContext",
        &context.map_or(String::new(), |c| c.to_string()),
    );
    let _ = data.set("backend", placement.map_or("", |p| runs_on_str(p.runs_on)));
    // Last, so a reader that sees the state also sees the rest.
    let _ = data.set("model", state.as_str());

    let place = placement.map(Placement::words);
    let status = match state {
        Readiness::None => "No model loaded".to_string(),
        Readiness::Loading => format!("Loading {name}…"),
        Readiness::Ready => {
            let runs = match &place {
                Some(place) => format!("{name} runs {place}"),
                None => format!("{name} is ready"),
            };
            match context {
                Some(c) => format!("{runs} · {c} tokens of context"),
                None => runs,
            }
        }
        Readiness::Error => format!("{name} could not be loaded"),
    };
    set_text("model-status", &status);
    if let Some(el) = document().get_element_by_id("model-status") {
        // The bar may cut the line short; the whole of it shows on hover.
        let _ = el.set_attribute("title", &status);
    }
    // The settings' "Where the model runs" says what runs where now.
    set_text(
        "backend-now",
        &match (state, &place) {
            (Readiness::Ready, Some(place)) => format!("Now: {name} runs {place}."),
            (Readiness::Loading, _) => format!("Now: loading {name}…"),
            (Readiness::Error, _) => format!("Now: {name} could not be loaded."),
            _ => "Now: no model is loaded.".to_string(),
        },
    );

    let detail = js_sys::Object::new();
    let set = |k: &str, v: JsValue| {
        let _ = js_sys::Reflect::set(&detail, &k.into(), &v);
    };
    set("state", state.as_str().into());
    set("id", id.into());
    set("name", name.into());
    set("context", context.map_or(JsValue::NULL, JsValue::from));
    let text = |t: Option<&str>| t.map_or(JsValue::NULL, JsValue::from);
    set("backend", text(placement.map(|p| runs_on_str(p.runs_on))));
    set(
        "adapter",
        text(placement.and_then(|p| p.adapter.as_deref())),
    );
    let fallback = placement.and_then(|p| p.fallback.as_ref());
    set(
        "fallback",
        text(fallback.map(|f| super::backend::fallback_str(f.reason))),
    );
    set("fallback_detail", text(fallback.map(|f| f.detail.as_str())));
    let init = web_sys::CustomEventInit::new();
    init.set_detail(&detail);
    match web_sys::CustomEvent::new_with_event_init_dict(EVENT, &init) {
        Ok(event) => {
            let _ = window().dispatch_event(&event);
        }
        Err(e) => web_sys::console::error_2(&"cannot announce the model".into(), &e),
    }
}
