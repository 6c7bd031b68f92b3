//! Where the model runs: the user's setting (automatic, the GPU or the CPU) and the words that
//! say where a loaded model runs and why an automatic load ended up on the CPU.

use super::advice::WEBGPU_HELP;
use hearth_protocol::{AdapterSummary, Backend, Fallback, FallbackReason, RunsOn};

/// The `localStorage` key of the setting.
pub const SETTING_KEY: &str = "hearth.backend";

/// The three choices, in the order the settings list them.
pub const CHOICES: [Backend; 3] = [Backend::Auto, Backend::Gpu, Backend::Cpu];

/// The setting as stored (and as the radio buttons' values): `auto`, `gpu` or `cpu`.
pub fn as_str(backend: Backend) -> &'static str {
    match backend {
        Backend::Auto => "auto",
        Backend::Gpu => "gpu",
        Backend::Cpu => "cpu",
        Backend::GpuHardwareLayout => "gpu_hardware_layout",
    }
}

/// The stored setting; anything unknown (or nothing) is automatic.
pub fn parse(stored: Option<&str>) -> Backend {
    CHOICES
        .into_iter()
        .find(|b| Some(as_str(*b)) == stored.map(str::trim))
        .unwrap_or_default()
}

pub fn runs_on_str(runs_on: RunsOn) -> &'static str {
    match runs_on {
        RunsOn::Gpu => "gpu",
        RunsOn::Cpu => "cpu",
    }
}

/// Where a loaded model runs, as its `loaded` reply says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    pub runs_on: RunsOn,
    /// The GPU adapter's name, when it runs on the GPU.
    pub adapter: Option<String>,
    /// Why an automatic load runs on the CPU.
    pub fallback: Option<Fallback>,
}

impl Placement {
    pub fn new(
        runs_on: RunsOn,
        adapter: Option<&AdapterSummary>,
        fallback: Option<&Fallback>,
    ) -> Self {
        Self {
            runs_on,
            adapter: adapter
                .map(|a| a.name.trim().to_string())
                .filter(|n| !n.is_empty()),
            fallback: fallback.cloned(),
        }
    }

    /// "on the GPU (NVIDIA GeForce RTX 4070)" or "on the CPU (WebAssembly SIMD, one thread)".
    pub fn words(&self) -> String {
        match (self.runs_on, &self.adapter) {
            (RunsOn::Gpu, Some(name)) => format!("on the GPU ({name})"),
            (RunsOn::Gpu, None) => "on the GPU".into(),
            (RunsOn::Cpu, _) => "on the CPU (WebAssembly SIMD, one thread)".into(),
        }
    }
}

/// What the load screen says about where a model will run, before it is loaded.
pub fn intent_words(setting: Backend) -> &'static str {
    match setting {
        Backend::Auto => "It runs on the GPU when this browser has one, otherwise on the CPU. You can change this under Settings → Where the model runs.",
        Backend::Gpu | Backend::GpuHardwareLayout => "It runs on the GPU (WebGPU), as chosen under Settings → Where the model runs.",
        Backend::Cpu => "It runs on the CPU (WebAssembly), as chosen under Settings → Where the model runs: slower than a GPU.",
    }
}

/// The reason as scripts see it (`hearth:model`'s `fallback`).
pub fn fallback_str(reason: FallbackReason) -> &'static str {
    match reason {
        FallbackReason::NoWebGpu => "no_web_gpu",
        FallbackReason::SoftwareAdapter => "software_adapter",
    }
}

/// The notice shown when an automatic load fell back to the CPU: why, what it costs, and
/// what would make it faster; and the technical part of the reason (what the browser said,
/// e.g. which graphics APIs it tried), shown apart in smaller print.
pub fn fallback_notice(fallback: &Fallback) -> (String, Option<String>) {
    match fallback.reason {
        FallbackReason::NoWebGpu => {
            let (why, detail) = split_reason(&fallback.detail);
            let why = if why.is_empty() {
                "This browser cannot run the model on its GPU.".to_string()
            } else {
                sentence(&why)
            };
            (
                format!(
                    "{why} The model runs on this device's CPU instead, which is slower: replies take longer to start and come out more slowly. For faster replies, open Hearth in a browser with WebGPU. {WEBGPU_HELP}"
                ),
                detail,
            )
        }
        FallbackReason::SoftwareAdapter => (
            "This browser's WebGPU runs in software on the processor, not on a graphics card, so Hearth runs the model on its own CPU engine, which is faster here. A graphics card would be faster still: turn on hardware acceleration in the browser's settings, or use a browser whose WebGPU reaches the GPU.".to_string(),
            Some(fallback.detail.trim().to_string()).filter(|d| !d.is_empty()),
        ),
    }
}

/// "no adapter (wgpu's words)" → ("no adapter", Some("wgpu's words")).
fn split_reason(fallback: &str) -> (String, Option<String>) {
    let text = fallback.trim();
    if let Some(open) = text.find(" (") {
        if let Some(inner) = text[open + 2..].strip_suffix(')') {
            let inner = inner.trim();
            return (
                text[..open].trim().to_string(),
                (!inner.is_empty()).then(|| inner.to_string()),
            );
        }
    }
    (text.to_string(), None)
}

/// `text` with a capital first letter and a full stop at the end.
fn sentence(text: &str) -> String {
    let mut chars = text.chars();
    let mut s: String = match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    };
    if !s.ends_with(['.', '!', '?']) {
        s.push('.');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_web_gpu(detail: &str) -> Fallback {
        Fallback {
            reason: FallbackReason::NoWebGpu,
            detail: detail.into(),
        }
    }

    #[test]
    fn a_software_adapter_is_explained_as_such() {
        let (text, detail) = fallback_notice(&Fallback {
            reason: FallbackReason::SoftwareAdapter,
            detail: "SwiftShader Device".into(),
        });
        assert!(text.contains("in software on the processor"), "{text}");
        assert!(text.contains("hardware acceleration"), "{text}");
        assert_eq!(detail.as_deref(), Some("SwiftShader Device"));
        assert_eq!(
            fallback_str(FallbackReason::SoftwareAdapter),
            "software_adapter"
        );
    }

    #[test]
    fn the_setting_round_trips_and_defaults_to_automatic() {
        for b in CHOICES {
            assert_eq!(parse(Some(as_str(b))), b);
        }
        assert_eq!(parse(None), Backend::Auto);
        assert_eq!(parse(Some("tpu")), Backend::Auto);
        assert_eq!(parse(Some(" cpu ")), Backend::Cpu);
    }

    #[test]
    fn placement_names_the_adapter_or_the_cpu() {
        let adapter = AdapterSummary {
            name: " SwiftShader Device ".into(),
            backend: "BrowserWebGpu".into(),
            max_buffer_size: 1 << 30,
            max_storage_binding: 1 << 30,
            shader_f16: false,
            subgroups: true,
        };
        let gpu = Placement::new(RunsOn::Gpu, Some(&adapter), None);
        assert_eq!(gpu.words(), "on the GPU (SwiftShader Device)");
        assert_eq!(
            Placement::new(RunsOn::Gpu, None, None).words(),
            "on the GPU"
        );
        let cpu = Placement::new(RunsOn::Cpu, None, None);
        assert_eq!(cpu.words(), "on the CPU (WebAssembly SIMD, one thread)");
        assert_eq!(cpu.fallback, None);
    }

    #[test]
    fn the_fallback_notice_says_why_and_what_helps() {
        let (text, detail) = fallback_notice(&no_web_gpu("this browser has no WebGPU"));
        assert!(text.starts_with("This browser has no WebGPU. "), "{text}");
        assert!(text.contains("slower"));
        assert!(text.contains("Chrome or Edge 113"));
        assert!(text.contains("--enable-unsafe-webgpu --enable-features=Vulkan"));
        assert_eq!(detail, None);
        assert!(fallback_notice(&no_web_gpu(""))
            .0
            .starts_with("This browser cannot run the model on its GPU."));
        assert!(fallback_notice(&no_web_gpu("No adapter!"))
            .0
            .starts_with("No adapter! The model"));
    }

    #[test]
    fn the_technical_part_of_a_reason_is_set_apart() {
        let (text, detail) = fallback_notice(&no_web_gpu(
            "no WebGPU adapter is available (No suitable graphics adapter found; vulkan not requested)",
        ));
        assert!(
            text.starts_with("No WebGPU adapter is available. The model"),
            "{text}"
        );
        assert_eq!(
            detail.as_deref(),
            Some("No suitable graphics adapter found; vulkan not requested")
        );
        // Parentheses inside the sentence are words, not details.
        let (text, detail) = fallback_notice(&no_web_gpu("the adapter (SwiftShader) is slow"));
        assert!(
            text.starts_with("The adapter (SwiftShader) is slow."),
            "{text}"
        );
        assert_eq!(detail, None);
        assert_eq!(fallback_notice(&no_web_gpu("no adapter ()")).1, None);
    }
}
