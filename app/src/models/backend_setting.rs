//! The "Where the model runs" setting in the settings dialog (radio buttons, kept in
//! `localStorage`), and the dismissible notice shown when an automatic load fell back to the
//! CPU.

use super::backend::{as_str, fallback_notice, parse, Placement, CHOICES, SETTING_KEY};
use crate::dom::{element, listen_id, set_hidden, set_text, window};
use hearth_protocol::Backend;
use web_sys::HtmlInputElement;

/// The fallback reason the user dismissed the notice for; it shows again for another reason.
const DISMISSED_KEY: &str = "hearth.backend-notice-dismissed";

thread_local! {
    /// The choice made on this page, which holds even where storage refused to keep it.
    static CHOSEN: std::cell::Cell<Option<Backend>> = const { std::cell::Cell::new(None) };
}

fn storage() -> Option<web_sys::Storage> {
    window().local_storage().ok().flatten()
}

/// The setting: automatic unless the user chose otherwise.
pub fn current() -> Backend {
    CHOSEN.get().unwrap_or_else(|| {
        parse(
            storage()
                .and_then(|s| s.get_item(SETTING_KEY).ok().flatten())
                .as_deref(),
        )
    })
}

/// Keeps `backend` as the setting; says so when it cannot be kept beyond this page.
pub fn store(backend: Backend) {
    CHOSEN.set(Some(backend));
    let kept = storage().is_some_and(|s| s.set_item(SETTING_KEY, as_str(backend)).is_ok());
    if !kept {
        say("The setting applies until this page is closed: it could not be saved (storage is full or blocked).");
    }
}

/// Back to automatic (Delete all data).
pub fn forget() {
    CHOSEN.set(None);
    if let Some(s) = storage() {
        let _ = s.remove_item(SETTING_KEY);
        let _ = s.remove_item(DISMISSED_KEY);
    }
    render(Backend::Auto);
    say("");
}

fn radio(backend: Backend) -> Option<HtmlInputElement> {
    element(&format!("backend-{}", as_str(backend)))
}

/// Checks the radio button of `backend`.
pub fn render(backend: Backend) {
    for b in CHOICES {
        if let Some(r) = radio(b) {
            r.set_checked(b == backend);
        }
    }
}

/// The checked radio button's choice.
fn checked() -> Option<Backend> {
    CHOICES
        .into_iter()
        .find(|b| radio(*b).is_some_and(|r| r.checked()))
}

/// A line under the choices: what a change did, or why it did not.
pub fn say(text: &str) {
    set_text("backend-message", text);
}

/// Calls `changed` with each choice the user makes; wires the notice's dismiss button.
pub fn wire(changed: fn(Backend)) {
    listen_id("backend-choice", "change", move |_| {
        if let Some(b) = checked() {
            changed(b);
        }
    });
    listen_id("backend-notice-dismiss", "click", |_| {
        let reason = element::<web_sys::Element>("backend-notice")
            .and_then(|n| n.get_attribute("data-reason"))
            .unwrap_or_default();
        if let Some(s) = storage() {
            let _ = s.set_item(DISMISSED_KEY, &reason);
        }
        set_hidden("backend-notice", true);
        // The button is gone: the composer is where the user goes next.
        if let Some(prompt) = element::<web_sys::HtmlElement>("prompt") {
            let _ = prompt.focus();
        }
    });
    render(current());
}

/// After a load: the notice shows when an automatic load fell back to the CPU (unless the
/// user dismissed it for the same reason), and goes otherwise.
pub fn show_notice(placement: Option<&Placement>) {
    let Some(notice) = element::<web_sys::HtmlElement>("backend-notice") else {
        return;
    };
    let fallback = placement.and_then(|p| p.fallback.clone());
    let dismissed = storage().and_then(|s| s.get_item(DISMISSED_KEY).ok().flatten());
    match fallback {
        Some(fallback) if dismissed.as_deref() != Some(dismiss_key(&fallback).as_str()) => {
            let _ = notice.set_attribute("data-reason", &dismiss_key(&fallback));
            let (text, detail) = fallback_notice(&fallback);
            set_text("backend-notice-text", &text);
            set_text(
                "backend-notice-detail",
                &detail.map_or(String::new(), |d| format!("The browser said: {d}")),
            );
            notice.set_hidden(false);
        }
        _ => notice.set_hidden(true),
    }
}

/// What a dismissal remembers: the notice shows again for another reason.
fn dismiss_key(fallback: &hearth_protocol::Fallback) -> String {
    format!(
        "{}: {}",
        super::backend::fallback_str(fallback.reason),
        fallback.detail
    )
}

/// Whether this browser exposes WebGPU at all (an adapter may still be missing).
pub fn has_webgpu() -> bool {
    js_sys::Reflect::has(&window().navigator(), &"gpu".into()).unwrap_or(false)
}

/// Keeps the radio buttons on `backend` (a refused change puts them back).
pub fn restore(backend: Backend) {
    render(backend);
    if let Some(r) = radio(backend) {
        let _ = r.focus();
    }
}
