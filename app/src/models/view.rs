//! Small DOM helpers for the models' parts of the page.

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

pub use crate::dom::{document, set_text};

/// The element with `id` as `T`, if the page has it.
pub fn element<T: JsCast>(id: &str) -> Option<T> {
    document().get_element_by_id(id)?.dyn_into().ok()
}

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

pub fn window() -> web_sys::Window {
    web_sys::window().expect("a page has a window")
}
