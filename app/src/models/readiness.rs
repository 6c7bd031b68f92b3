//! The model's readiness for the rest of the page: `document.body.dataset.model` is
//! `none|loading|ready|error` (with `modelId`, `modelName`, `modelContext` beside it), and a
//! `hearth:model` event on `window` carries `{state, id, name, context}` at every change.

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

pub fn announce(state: Readiness, id: &str, name: &str, context: Option<u32>) {
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
    // Last, so a reader that sees the state also sees the rest.
    let _ = data.set("model", state.as_str());

    set_text(
        "model-status",
        &match state {
            Readiness::None => "No model loaded".to_string(),
            Readiness::Loading => format!("Loading {name}…"),
            Readiness::Ready => match context {
                Some(c) => format!("{name} is ready ({c} tokens of context)"),
                None => format!("{name} is ready"),
            },
            Readiness::Error => format!("{name} could not be loaded"),
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
    let init = web_sys::CustomEventInit::new();
    init.set_detail(&detail);
    match web_sys::CustomEvent::new_with_event_init_dict(EVENT, &init) {
        Ok(event) => {
            let _ = window().dispatch_event(&event);
        }
        Err(e) => web_sys::console::error_2(&"cannot announce the model".into(), &e),
    }
}
