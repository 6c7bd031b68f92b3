//! What makes Hearth an installable app: the Install button, the "update available" bar and
//! the offline indicator. Each finds its element in the page and does nothing without it.

mod install;
mod offline;
mod update;

/// Wires all three; called once when the app page starts.
pub fn init() {
    let report = |what: &str, r: Result<(), wasm_bindgen::JsValue>| {
        if let Err(e) = r {
            web_sys::console::warn_2(&format!("{what} is unavailable:").into(), &e);
        }
    };
    report("the install button", install::init());
    report("the offline indicator", offline::init());
    update::init();
}

/// Shows or hides the element with `id` (the `hidden` attribute).
fn set_hidden(id: &str, hidden: bool) {
    if let Some(el) = crate::dom::document().get_element_by_id(id) {
        let _ = if hidden {
            el.set_attribute("hidden", "")
        } else {
            el.remove_attribute("hidden")
        };
    }
}

/// Calls `f` on every `event` of `target`, for the page's lifetime.
fn listen(
    target: &web_sys::EventTarget,
    event: &str,
    f: impl FnMut(web_sys::Event) + 'static,
) -> Result<(), wasm_bindgen::JsValue> {
    use wasm_bindgen::prelude::*;
    let handler = Closure::<dyn FnMut(web_sys::Event)>::new(f);
    target.add_event_listener_with_callback(event, handler.as_ref().unchecked_ref())?;
    handler.forget();
    Ok(())
}
