//! A failed load in plain words: what happened and what to do about it.

use hearth_protocol::ErrorKind;

/// Which browsers run WebGPU, and the flags Linux needs.
pub const WEBGPU_HELP: &str = "Use Chrome or Edge 113 or newer, Safari 26 or newer, or Firefox 141 or newer on Windows. On Linux, start Chromium with --enable-unsafe-webgpu --enable-features=Vulkan.";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Advice {
    /// What happened, in one sentence.
    pub title: &'static str,
    /// What to do.
    pub action: String,
    /// The engine's own words (numbers, the file's fault), shown below.
    pub detail: String,
    /// Offer a Reload button (the engine starts afresh).
    pub reload: bool,
    /// Offer to try the same load again.
    pub retry: bool,
}

pub fn advise(kind: ErrorKind, message: &str) -> Advice {
    let detail = message.trim().to_string();
    let (title, action, reload, retry) = match kind {
        ErrorKind::NoWebGpu => (
            "This browser cannot run the model: WebGPU is not available.",
            WEBGPU_HELP.to_string(),
            false,
            false,
        ),
        ErrorKind::DeviceTooSmall => (
            "This device does not have the memory (GPU memory, or memory for the CPU engine) for this model.",
            "Choose a smaller model from the list, or use a device with more memory.".into(),
            false,
            false,
        ),
        ErrorKind::DeviceLost => (
            "The GPU stopped responding (the device was lost).",
            "Reload the page: the engine starts afresh. If it happens again, close other GPU-heavy tabs or restart the browser.".into(),
            true,
            false,
        ),
        ErrorKind::Storage => (
            "There is not enough storage for this model.",
            "Free up disk space, or delete stored models under Settings → Stored models, then try again. Parts already stored are kept.".into(),
            false,
            true,
        ),
        ErrorKind::Network => (
            "The download failed.",
            "Check your connection and try again: the parts already downloaded are kept, so it resumes where it stopped.".into(),
            false,
            true,
        ),
        ErrorKind::Model => (
            "This model file cannot be used.",
            "Choose a GGUF file of a Llama-family model (for example Q4_K, Q6_K or Q8_0), or a model from the list.".into(),
            false,
            false,
        ),
        ErrorKind::Cancelled => (
            "Loading was cancelled.",
            "Choose a model to load when you are ready.".into(),
            false,
            true,
        ),
        ErrorKind::Other => (
            "Something went wrong while loading the model.",
            "Try again; if it keeps failing, reload the page.".into(),
            true,
            true,
        ),
    };
    Advice {
        title,
        action,
        detail,
        reload,
        retry,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_says_what_to_do() {
        for kind in [
            ErrorKind::NoWebGpu,
            ErrorKind::DeviceTooSmall,
            ErrorKind::DeviceLost,
            ErrorKind::Storage,
            ErrorKind::Network,
            ErrorKind::Model,
            ErrorKind::Cancelled,
            ErrorKind::Other,
        ] {
            let a = advise(kind, " why ");
            assert!(!a.title.is_empty() && !a.action.is_empty(), "{kind:?}");
            assert_eq!(a.detail, "why");
        }
    }

    #[test]
    fn specific_advice() {
        let a = advise(ErrorKind::NoWebGpu, "");
        assert!(a.action.contains("Chrome or Edge 113"));
        assert!(a
            .action
            .contains("--enable-unsafe-webgpu --enable-features=Vulkan"));
        assert!(a.action.contains("Firefox 141"));
        assert!(advise(ErrorKind::DeviceLost, "").reload);
        assert!(advise(ErrorKind::Network, "").action.contains("resumes"));
        assert!(advise(ErrorKind::Network, "").retry);
        assert!(!advise(ErrorKind::Model, "").retry);
    }
}
