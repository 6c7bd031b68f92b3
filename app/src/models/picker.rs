//! The model picker in the header: each catalog model with its quantization and download
//! size (and whether it is stored here), plus a local file while one is open. The last choice
//! is remembered in `localStorage`.

use super::catalog::ModelChoice;
use super::progress::megabytes;
use crate::dom::{document, element, window};
use hearth_protocol::CachedModel;
use wasm_bindgen::JsCast;

const REMEMBERED: &str = "hearth.model";
/// The picker's value for a file opened from this device.
pub const LOCAL_FILE: &str = "local-file";

pub fn remembered() -> Option<String> {
    window().local_storage().ok()??.get_item(REMEMBERED).ok()?
}

pub fn remember(id: &str) {
    if let Ok(Some(storage)) = window().local_storage() {
        let _ = storage.set_item(REMEMBERED, id);
    }
}

/// How much of `choice` is stored: `(bytes stored, complete)`.
pub fn stored(choice: &ModelChoice, stored: &[CachedModel]) -> (u64, bool) {
    stored
        .iter()
        .find(|m| m.manifest_url == choice.manifest_url)
        .map_or((0, false), |m| {
            (
                m.bytes_stored,
                m.chunks_total > 0 && m.chunks_stored == m.chunks_total,
            )
        })
}

pub fn label(choice: &ModelChoice, stored_models: &[CachedModel]) -> String {
    let (bytes, complete) = stored(choice, stored_models);
    let place = if complete {
        " · stored on this device".to_string()
    } else if bytes > 0 {
        format!(" · {} of it stored", megabytes(bytes))
    } else {
        String::new()
    };
    format!(
        "{} · {} · {} download{place}",
        choice.model.name,
        choice.model.quantization,
        megabytes(choice.size)
    )
}

/// Fills the picker; `selected` is a catalog id or [`LOCAL_FILE`]; `local` names an open file.
pub fn render(
    catalog: &[ModelChoice],
    stored_models: &[CachedModel],
    selected: Option<&str>,
    local: Option<&str>,
) {
    let Some(select) = element::<web_sys::HtmlSelectElement>("model-picker") else {
        return;
    };
    select.set_inner_html("");
    let add = |value: &str, text: &str| {
        if let Ok(option) = document().create_element("option") {
            let option: web_sys::HtmlOptionElement = option.unchecked_into();
            option.set_value(value);
            option.set_text(text);
            option.set_selected(Some(value) == selected);
            let _ = select.append_child(&option);
        }
    };
    for choice in catalog {
        add(&choice.id, &label(choice, stored_models));
    }
    if let Some(name) = local {
        add(LOCAL_FILE, &format!("{name} (file on this device)"));
    }
    select.set_disabled(catalog.is_empty() && local.is_none());
}

pub fn value() -> Option<String> {
    element::<web_sys::HtmlSelectElement>("model-picker").map(|s| s.value())
}
