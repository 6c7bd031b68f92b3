//! Opening a GGUF file from this device: the file picker and dropping a file on the page.
//! The `File` goes to the engine as is; nothing is uploaded anywhere.

use crate::dom::{element, listen, listen_id, set_hidden, window};
use wasm_bindgen::JsCast;

/// Wires the file input, its buttons and drag-and-drop; `open` gets each chosen file.
pub fn wire(open: fn(web_sys::File)) {
    let choose = |_| {
        if let Some(input) = element::<web_sys::HtmlInputElement>("model-file") {
            input.click();
        }
    };
    listen_id("open-model-file", "click", choose);
    listen_id("load-open-file", "click", choose);
    listen_id("model-file", "change", move |_| {
        let Some(input) = element::<web_sys::HtmlInputElement>("model-file") else {
            return;
        };
        if let Some(file) = input.files().and_then(|f| f.get(0)) {
            open(file);
        }
        // Choosing the same file again is a new choice.
        input.set_value("");
    });

    let target: web_sys::EventTarget = window().unchecked_into();
    let carries_files = |e: &web_sys::DragEvent| {
        e.data_transfer()
            .map(|d| d.types().includes(&"Files".into(), 0))
            .unwrap_or(false)
    };
    listen(&target, "dragover", move |e| {
        let e: web_sys::DragEvent = e.unchecked_into();
        if carries_files(&e) {
            // Without this the browser opens the file instead of dropping it here.
            e.prevent_default();
            if let Some(d) = e.data_transfer() {
                d.set_drop_effect("copy");
            }
            set_hidden("drop-overlay", false);
        }
    });
    listen(&target, "dragleave", |e| {
        let e: web_sys::DragEvent = e.unchecked_into();
        // Leaving the window, not moving between elements.
        if e.related_target().is_none() {
            set_hidden("drop-overlay", true);
        }
    });
    listen(&target, "drop", move |e| {
        let e: web_sys::DragEvent = e.unchecked_into();
        set_hidden("drop-overlay", true);
        let Some(file) = e
            .data_transfer()
            .and_then(|d| d.files())
            .and_then(|f| f.get(0))
        else {
            return;
        };
        e.prevent_default();
        open(file);
    });
}
