//! Whether a model is ready to chat with, announced to the rest of the page: the body's
//! `data-model` (`none|loading|ready|error`) and a `hearth:model` event on `window` whose
//! detail is `{state, id, name, context}`.

use wasm_bindgen::prelude::*;

pub const EVENT: &str = "hearth:model";

pub fn announce(state: &str, id: &str, name: &str, context: u32) {
    let Some(window) = web_sys::window() else {
        return;
    };
    if let Some(body) = window.document().and_then(|d| d.body()) {
        let _ = body.set_attribute("data-model", state);
    }
    let detail = js_sys::Object::new();
    for (key, value) in [
        ("state", JsValue::from_str(state)),
        ("id", JsValue::from_str(id)),
        ("name", JsValue::from_str(name)),
        ("context", JsValue::from(context)),
    ] {
        let _ = js_sys::Reflect::set(&detail, &key.into(), &value);
    }
    let init = web_sys::CustomEventInit::new();
    init.set_detail(&detail);
    if let Ok(event) = web_sys::CustomEvent::new_with_event_init_dict(EVENT, &init) {
        let _ = window.dispatch_event(&event);
    }
}
