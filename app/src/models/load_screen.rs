//! The load screen: shown while no model is loaded or one is loading. It names the model and
//! the stage, shows bytes, percent and time left with a `<progress>`, offers Download, Cancel,
//! Reload and opening a file, and explains failures with what to do.

use super::advice::Advice;
use crate::dom::{element, set_hidden, set_text};

pub fn show() {
    set_hidden("load-screen", false);
}

pub fn hide() {
    set_hidden("load-screen", true);
}

fn set_progress(value: Option<u32>) {
    if let Some(p) = element::<web_sys::HtmlProgressElement>("load-progress") {
        match value {
            Some(v) => {
                p.set_hidden(false);
                p.set_value(f64::from(v));
            }
            None => p.set_hidden(true),
        }
    }
}

fn set_download(label: Option<&str>) {
    match label {
        Some(label) => {
            set_text("load-download", label);
            set_hidden("load-download", false);
        }
        None => set_hidden("load-download", true),
    }
}

fn clear_error() {
    set_hidden("load-error", true);
    set_hidden("load-reload", true);
}

/// Nothing loading: `title` (the chosen model), a note, and the Download button's label if a
/// download (or load from storage) can start.
pub fn idle(title: &str, note: &str, download: Option<&str>) {
    show();
    clear_error();
    set_text("load-title", title);
    set_text("load-model", "");
    set_text("load-stage", note);
    set_text("load-numbers", "");
    set_progress(None);
    set_hidden("load-cancel", true);
    set_download(download);
    set_state("idle");
}

/// Where the model will run (what the setting asks for), under the title.
pub fn intent(text: &str) {
    set_text("load-model", text);
}

/// A load in progress.
pub fn progress(name: &str, stage: &str, percent: Option<u32>, numbers: &str) {
    show();
    clear_error();
    set_text("load-title", &format!("Loading {name}"));
    set_text("load-stage", stage);
    set_text("load-numbers", numbers);
    set_progress(percent);
    set_hidden("load-cancel", false);
    set_download(None);
    set_state("loading");
}

/// A failed load: what happened, what to do, the engine's words; Reload and Try again where
/// they help.
pub fn failed(name: &str, advice: &Advice, retry: Option<&str>) {
    show();
    set_text("load-title", &format!("{name} could not be loaded"));
    set_text("load-stage", "");
    set_text("load-numbers", "");
    set_progress(None);
    set_text("load-error-title", advice.title);
    set_text("load-error-action", &advice.action);
    set_text("load-error-detail", &advice.detail);
    set_hidden("load-error", false);
    set_hidden("load-reload", !advice.reload);
    set_hidden("load-cancel", true);
    set_download(retry.filter(|_| advice.retry));
    set_state("error");
}

/// `data-state` on the load screen (tests and CSS read it).
fn set_state(state: &str) {
    crate::dom::set_state("load-screen", state);
}
