//! The settings dialog (reply settings, export, delete all data) and the theme toggle.
//! Settings and the theme are kept in localStorage: small, and read before the first paint.

use super::conversation::{export_json, export_markdown, import_json, Conversation};
use super::page::{reload_conversations, with};
use super::settings::{ChatSettings, FIELDS};
use super::store;
use crate::dom::{document, set_text};
use crate::dom::{element, listen};
use hearth_protocol::{SwReply, SwRequest};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::spawn_local;
use web_sys::{HtmlDialogElement, HtmlInputElement, HtmlTextAreaElement};

const SETTINGS_KEY: &str = "hearth-settings";
const THEME_KEY: &str = "hearth-theme";

fn local_storage() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok().flatten()
}

fn stored(key: &str) -> Option<String> {
    local_storage()?.get_item(key).ok().flatten()
}

fn store_value(key: &str, value: &str) {
    if let Some(storage) = local_storage() {
        if storage.set_item(key, value).is_err() {
            set_text(
                "settings-error",
                "Settings could not be saved (storage is full or blocked).",
            );
        }
    }
}

fn label_of(field: &str) -> String {
    element::<web_sys::Element>(&format!("setting-{field}"))
        .and_then(|input| {
            document()
                .query_selector(&format!("label[for=\"{}\"]", input.id()))
                .ok()
                .flatten()
        })
        .and_then(|label| label.first_child())
        .and_then(|text| text.text_content())
        .map(|t| t.trim().to_string())
        .unwrap_or_else(|| field.to_string())
}

fn fill_form(settings: &ChatSettings) {
    if let Some(prompt) = element::<HtmlTextAreaElement>("setting-system_prompt") {
        prompt.set_value(&settings.system_prompt);
    }
    for field in FIELDS {
        if let Some(input) = element::<HtmlInputElement>(&format!("setting-{field}")) {
            input.set_value(&settings.field(field));
        }
    }
    set_text("settings-error", "");
}

/// Reads every field of the form; a field with a bad value keeps its old one and is named.
fn read_form() {
    let mut settings = with(|c| c.settings.clone());
    let mut problems = Vec::new();
    if let Some(prompt) = element::<HtmlTextAreaElement>("setting-system_prompt") {
        settings.system_prompt = prompt.value();
    }
    for field in FIELDS {
        if let Some(input) = element::<HtmlInputElement>(&format!("setting-{field}")) {
            if let Err(why) = settings.set_field(field, &input.value()) {
                problems.push(format!("{}: {why}.", label_of(field)));
            }
        }
    }
    set_text("settings-error", &problems.join(" "));
    store_value(SETTINGS_KEY, &settings.to_stored());
    with(|c| c.settings = settings);
}

fn apply_theme(theme: &str) {
    let root = document().document_element();
    if let Some(root) = root {
        match theme {
            "light" | "dark" => {
                let _ = root.set_attribute("data-theme", theme);
            }
            _ => {
                let _ = root.remove_attribute("data-theme");
            }
        }
    }
    if let Some(toggle) = element::<web_sys::Element>("theme-toggle") {
        let (now, icon) = match theme {
            "light" => ("light", "☀"),
            "dark" => ("dark", "☾"),
            _ => ("same as the system", "◐"),
        };
        let _ = toggle.set_attribute("aria-label", &format!("Theme: {now}. Change theme"));
        let _ = toggle.set_attribute("title", &format!("Theme: {now}"));
        toggle.set_text_content(Some(icon));
    }
}

fn next_theme() {
    let next = match stored(THEME_KEY).as_deref() {
        Some("light") => "dark",
        Some("dark") => "system",
        _ => "light",
    };
    store_value(THEME_KEY, next);
    apply_theme(next);
}

fn download(name: &str, mime: &str, text: &str) -> Result<(), JsValue> {
    let parts = js_sys::Array::of1(&JsValue::from_str(text));
    let options = web_sys::BlobPropertyBag::new();
    options.set_type(mime);
    let blob = web_sys::Blob::new_with_str_sequence_and_options(&parts, &options)?;
    let url = web_sys::Url::create_object_url_with_blob(&blob)?;
    let link: web_sys::HtmlAnchorElement = document().create_element("a")?.unchecked_into();
    link.set_href(&url);
    link.set_download(name);
    link.click();
    // The download has started from the URL; it is released once the click was handled.
    let revoke = Closure::once_into_js(move || {
        let _ = web_sys::Url::revoke_object_url(&url);
    });
    if let Some(window) = web_sys::window() {
        let _ = window
            .set_timeout_with_callback_and_timeout_and_arguments_0(revoke.unchecked_ref(), 10_000);
    }
    Ok(())
}

fn export(markdown: bool) {
    let conversations = with(|c| c.conversations.clone());
    if conversations.is_empty() {
        set_text("data-status", "There are no saved conversations to export.");
        return;
    }
    let result = if markdown {
        download(
            "hearth-conversations.md",
            "text/markdown",
            &export_markdown(&conversations),
        )
    } else {
        download(
            "hearth-conversations.json",
            "application/json",
            &export_json(&conversations),
        )
    };
    match result {
        Ok(()) => set_text(
            "data-status",
            &format!("Exported {} conversation(s).", conversations.len()),
        ),
        Err(e) => set_text(
            "data-status",
            &format!("The export failed: {}", crate::dom::js_error_text(&e)),
        ),
    }
}

async fn delete_all() {
    let mut problems = Vec::new();
    if let Err(e) = store::clear().await {
        problems.push(format!("conversations: {e}"));
    }
    if let Some(storage) = local_storage() {
        let _ = storage.remove_item(SETTINGS_KEY);
        let _ = storage.remove_item(THEME_KEY);
    }
    crate::models::forget_backend_setting();
    let models = match crate::service_worker::ask(&SwRequest::EvictAll).await {
        Ok(SwReply::Evicted { bytes, .. }) => format!("{:.0} MB of models", bytes as f64 / 1e6),
        Ok(SwReply::Error { message }) => {
            problems.push(format!("models: {message}"));
            String::new()
        }
        Ok(other) => {
            problems.push(format!("models: unexpected answer {other:?}"));
            String::new()
        }
        Err(e) => {
            problems.push(format!("models: {}", crate::dom::js_error_text(&e)));
            String::new()
        }
    };
    with(|c| c.settings = ChatSettings::default());
    fill_form(&ChatSettings::default());
    apply_theme("system");
    reload_conversations(Vec::new());
    let status = if problems.is_empty() {
        format!("Deleted all conversations, settings and {models}.")
    } else {
        format!("Some data could not be deleted: {}", problems.join("; "))
    };
    set_text("data-status", &status);
}

fn confirm_delete_all() {
    let Some(window) = web_sys::window() else {
        return;
    };
    if super::page::busy() {
        set_text("data-status", "Stop the reply being written first.");
        return;
    }
    let sure = window
        .confirm_with_message(
            "Delete all conversations, settings and downloaded models from this device? This cannot be undone.",
        )
        .unwrap_or(false);
    if sure {
        set_text("data-status", "Deleting…");
        spawn_local(delete_all());
    }
}

/// Adds conversations from a JSON export (same ids are replaced); resolves with how many.
pub async fn import(text: &str) -> Result<usize, String> {
    let imported: Vec<Conversation> = import_json(text)?;
    for conversation in &imported {
        store::put(conversation).await?;
    }
    reload_conversations(store::all().await?);
    Ok(imported.len())
}

/// Reads stored settings and theme and wires the dialog and the theme toggle.
pub(super) fn mount() {
    let settings = ChatSettings::from_stored(stored(SETTINGS_KEY).as_deref());
    with(|c| c.settings = settings);
    apply_theme(stored(THEME_KEY).as_deref().unwrap_or("system"));
    if let Some(toggle) = element::<web_sys::Element>("theme-toggle") {
        listen(&toggle, "click", |_| next_theme());
    }
    if let Some(button) = element::<web_sys::Element>("settings-button") {
        listen(&button, "click", |_| {
            fill_form(&with(|c| c.settings.clone()));
            set_text("data-status", "");
            if let Some(dialog) = element::<HtmlDialogElement>("settings") {
                let _ = dialog.show_modal();
            }
        });
    }
    if let Some(form) = element::<web_sys::Element>("settings-form") {
        listen(&form, "change", |_| read_form());
    }
    if let Some(dialog) = element::<web_sys::Element>("settings") {
        listen(&dialog, "close", |_| {
            read_form();
            if let Some(button) = element::<web_sys::HtmlElement>("settings-button") {
                let _ = button.focus();
            }
        });
    }
    for (id, markdown) in [("export-json", false), ("export-markdown", true)] {
        if let Some(button) = element::<web_sys::Element>(id) {
            listen(&button, "click", move |_| export(markdown));
        }
    }
    if let Some(button) = element::<web_sys::Element>("delete-all") {
        listen(&button, "click", |_| confirm_delete_all());
    }
}
