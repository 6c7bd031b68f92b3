//! The offline indicator: shown while the browser reports no network (`navigator.onLine` and
//! the `online`/`offline` events). Hearth keeps working offline once a model is stored.

use crate::dom::{listen, set_hidden};
use wasm_bindgen::prelude::*;

const INDICATOR: &str = "offline-indicator";

fn show(online: bool) {
    set_hidden(INDICATOR, online);
    if let Some(el) = crate::dom::document().get_element_by_id(INDICATOR) {
        let _ = el.set_attribute("data-state", if online { "online" } else { "offline" });
    }
}

pub fn init() -> Result<(), JsValue> {
    let window = web_sys::window().ok_or("no window")?;
    show(window.navigator().on_line());
    listen(&window, "online", |_| show(true));
    listen(&window, "offline", |_| show(false));
    Ok(())
}
