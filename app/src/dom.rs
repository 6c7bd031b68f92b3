//! Small helpers over the page's DOM.

use wasm_bindgen::prelude::*;

pub fn document() -> web_sys::Document {
    web_sys::window()
        .expect("a page has a window")
        .document()
        .expect("a page has a document")
}

/// Sets the text of the element with `id`, if the page has it.
pub fn set_text(id: &str, text: &str) {
    if let Some(el) = document().get_element_by_id(id) {
        el.set_text_content(Some(text));
    }
}

/// Sets a `data-*` attribute on the element with `id` (tests and CSS read these states).
pub fn set_state(id: &str, state: &str) {
    if let Some(el) = document().get_element_by_id(id) {
        let _ = el.set_attribute("data-state", state);
    }
}

pub fn js_error_text(e: &JsValue) -> String {
    e.dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .or_else(|| e.as_string())
        .unwrap_or_else(|| format!("{e:?}"))
}

/// A JS `Error` carrying the engine's error kind as `kind` (e.g. `storage`, `no_web_gpu`), so
/// callers can say what to do about it.
pub fn error_with_kind(message: &str, kind: hearth_protocol::ErrorKind) -> JsValue {
    let error = js_sys::Error::new(message);
    let kind = serde_wasm_bindgen::to_value(&kind).unwrap_or(JsValue::NULL);
    let _ = js_sys::Reflect::set(&error, &"kind".into(), &kind);
    error.into()
}
