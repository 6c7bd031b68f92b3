//! The notice a page shows while another tab owns the engine ("take over" button) or after
//! another tab took it over ("reload" button). Built here so every page (app and embed) gets it.

use crate::dom::document;
use js_sys::{Function, Promise};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

/// `document.body.dataset.engineOwner`: `owner`, `waiting` or `lost` (tests and CSS read it).
const OWNER_STATE: &str = "data-engine-owner";

const NOTICE_ID: &str = "engine-lock";

pub fn set_owner_state(state: &str) {
    if let Some(body) = document().body() {
        let _ = body.set_attribute(OWNER_STATE, state);
    }
}

/// The notice element, created at the top of the body the first time.
fn notice() -> Result<web_sys::Element, JsValue> {
    let doc = document();
    if let Some(el) = doc.get_element_by_id(NOTICE_ID) {
        return Ok(el);
    }
    let el = doc.create_element("div")?;
    el.set_id(NOTICE_ID);
    el.set_attribute("role", "status")?;
    el.set_attribute("class", "engine-lock")?;
    let body = doc.body().ok_or("the page has no body")?;
    body.prepend_with_node_1(&el)?;
    Ok(el)
}

fn fill(state: &str, text: &str, button: &str) -> Result<web_sys::Element, JsValue> {
    let el = notice()?;
    el.set_attribute("data-state", state)?;
    el.remove_attribute("hidden")?;
    el.set_text_content(None);
    let p = document().create_element("p")?;
    p.set_text_content(Some(text));
    let b = document().create_element("button")?;
    b.set_attribute("type", "button")?;
    b.set_text_content(Some(button));
    el.append_child(&p)?;
    el.append_child(&b)?;
    set_owner_state(state);
    Ok(b)
}

/// Shows "running in another tab" with a take-over button that calls `take_over` (which asks
/// for the lock with `steal`). The returned promise resolves once the take-over got the lock.
pub fn show_waiting(
    take_over: impl Fn() -> Result<Promise, JsValue> + 'static,
) -> Result<Promise, JsValue> {
    let button = fill(
        "waiting",
        "Hearth is running in another tab. It starts here when that tab closes, or you can use it here instead (the other tab stops).",
        "Use Hearth here",
    )?;
    let mut resolve_taken: Option<Function> = None;
    let taken = Promise::new(&mut |resolve, _| resolve_taken = Some(resolve));
    let resolve_taken = resolve_taken.ok_or("no resolver")?;
    let on_click = Closure::<dyn FnMut()>::new(move || match take_over() {
        Ok(granted) => {
            let resolve = resolve_taken.clone();
            wasm_bindgen_futures::spawn_local(async move {
                if let Ok(v) = JsFuture::from(granted).await {
                    let _ = resolve.call1(&JsValue::NULL, &v);
                }
            });
        }
        Err(e) => web_sys::console::error_2(&"taking over the engine failed".into(), &e),
    });
    button.add_event_listener_with_callback("click", on_click.as_ref().unchecked_ref())?;
    on_click.forget();
    Ok(taken)
}

/// Shows that another tab took the engine over, with a reload button.
pub fn show_lost() {
    let shown = fill(
        "lost",
        "Hearth was opened in another tab, which now runs the model. Reload to use it here again.",
        "Reload",
    );
    match shown {
        Ok(button) => {
            let on_click = Closure::<dyn FnMut()>::new(|| {
                if let Some(w) = web_sys::window() {
                    let _ = w.location().reload();
                }
            });
            let _ =
                button.add_event_listener_with_callback("click", on_click.as_ref().unchecked_ref());
            on_click.forget();
        }
        Err(e) => web_sys::console::error_2(&"showing the engine notice failed".into(), &e),
    }
}

pub fn hide() {
    if let Some(el) = document().get_element_by_id(NOTICE_ID) {
        let _ = el.set_attribute("hidden", "");
    }
}
