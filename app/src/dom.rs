//! Small helpers over the page's DOM.

use wasm_bindgen::prelude::*;

pub fn window() -> web_sys::Window {
    web_sys::window().expect("a page has a window")
}

pub fn document() -> web_sys::Document {
    window().document().expect("a page has a document")
}

/// The element with `id` as `T`, if the page has it.
pub fn element<T: JsCast>(id: &str) -> Option<T> {
    document().get_element_by_id(id)?.dyn_into().ok()
}

/// Shows or hides the element with `id` (its `hidden` attribute), if the page has it.
pub fn set_hidden(id: &str, hidden: bool) {
    if let Some(el) = element::<web_sys::HtmlElement>(id) {
        el.set_hidden(hidden);
    }
}

/// Calls `f` on each `event` at `target` for the page's lifetime.
pub fn listen(target: &web_sys::EventTarget, event: &str, f: impl FnMut(web_sys::Event) + 'static) {
    let closure = Closure::<dyn FnMut(web_sys::Event)>::new(f);
    if let Err(e) = target.add_event_listener_with_callback(event, closure.as_ref().unchecked_ref())
    {
        web_sys::console::error_2(&format!("cannot listen to {event}").into(), &e);
    }
    // The page's controls live as long as the page.
    closure.forget();
}

/// Like [`listen`] on the element with `id`, if the page has it.
pub fn listen_id(id: &str, event: &str, f: impl FnMut(web_sys::Event) + 'static) {
    if let Some(el) = document().get_element_by_id(id) {
        listen(&el, event, f);
    }
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
