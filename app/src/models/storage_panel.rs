//! Stored models, in the settings dialog: each model's size on disk with a Delete button, how
//! much of the browser's quota the site uses, and whether its storage is persistent.

use super::progress::megabytes;
use crate::dom::{document, element, set_text, window};
use hearth_protocol::CachedModel;
use wasm_bindgen_futures::JsFuture;

/// The attribute on each Delete button naming the model's manifest.
pub const MANIFEST_ATTRIBUTE: &str = "data-manifest-url";

/// Lists the models with anything stored.
pub fn render(stored: &[CachedModel]) {
    let Some(list) = element::<web_sys::HtmlElement>("stored-models") else {
        return;
    };
    list.set_inner_html("");
    let doc = document();
    let mut any = false;
    for model in stored.iter().filter(|m| m.bytes_stored > 0) {
        any = true;
        let (Ok(item), Ok(text), Ok(button)) = (
            doc.create_element("li"),
            doc.create_element("span"),
            doc.create_element("button"),
        ) else {
            continue;
        };
        let complete = model.chunks_total > 0 && model.chunks_stored == model.chunks_total;
        text.set_text_content(Some(&if complete {
            format!("{} — {} on disk", model.name, megabytes(model.bytes_stored))
        } else {
            format!(
                "{} — {} on disk (partly downloaded: {} of {})",
                model.name,
                megabytes(model.bytes_stored),
                megabytes(model.bytes_stored),
                megabytes(model.bytes_total)
            )
        }));
        let _ = button.set_attribute("type", "button");
        let _ = button.set_attribute(MANIFEST_ATTRIBUTE, &model.manifest_url);
        let _ = button.set_attribute("aria-label", &format!("Delete {}", model.name));
        button.set_text_content(Some("Delete"));
        let _ = item.append_child(&text);
        let _ = item.append_child(&button);
        let _ = list.append_child(&item);
    }
    if !any {
        if let Ok(item) = doc.create_element("li") {
            item.set_text_content(Some("No models are stored on this device."));
            let _ = list.append_child(&item);
        }
    }
}

/// The storage estimate and persistence, from the browser.
pub async fn render_storage() {
    let storage = window().navigator().storage();
    set_text(
        "storage-estimate",
        &match super::catalog::storage_estimate(&storage).await {
            Ok((usage, quota)) if quota > 0 => format!(
                "This site uses {} of the {} this browser allows it ({} free).",
                megabytes(usage),
                megabytes(quota),
                megabytes(quota.saturating_sub(usage))
            ),
            _ => "This browser does not say how much storage the site may use.".into(),
        },
    );
    let persisted = match storage.persisted() {
        Ok(p) => JsFuture::from(p).await.ok().and_then(|v| v.as_bool()),
        Err(_) => None,
    };
    set_text(
        "storage-persistence",
        match persisted {
            Some(true) => "Storage is persistent: the browser keeps stored models even when the disk runs low.",
            Some(false) => "Storage is not persistent: the browser may clear stored models when the disk runs low.",
            None => "This browser does not say whether stored models are kept.",
        },
    );
}
