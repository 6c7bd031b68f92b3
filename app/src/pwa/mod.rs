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
