//! Whether this device is likely to have the memory for a model. Browsers based on Chromium
//! report `navigator.deviceMemory` (GB, rounded down to a power of two, at most 8); others
//! report nothing, and nothing is said. A model needs its own size in memory (in wasm memory
//! on the CPU; on an integrated GPU the same RAM) plus a quarter for the KV cache, activations
//! and the engine, and a browser tab can count on about half of the device's memory.

/// The device's memory in GB, where the browser says.
#[cfg(target_arch = "wasm32")]
pub fn device_memory_gb() -> Option<f64> {
    let navigator = crate::dom::window().navigator();
    js_sys::Reflect::get(&navigator, &"deviceMemory".into())
        .ok()?
        .as_f64()
        .filter(|gb| gb.is_finite() && *gb > 0.0)
}

/// A sentence for the load screen when a model of `model_bytes` likely does not fit a device
/// of `device_gb`.
pub fn warning(model_bytes: u64, device_gb: Option<f64>) -> Option<String> {
    let device_gb = device_gb?;
    let needed_gb = model_bytes as f64 * 1.25 / 1e9;
    (needed_gb > device_gb / 2.0).then(|| {
        format!(
            "It needs about {needed_gb:.1} GB of memory and this device reports {device_gb} GB: \
             loading it may fail or slow the device down, and a smaller model is safer here."
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_model_too_large_for_the_device_is_named() {
        // Llama 3.2 1B Q6_K (1.02 GB) on a 2 GB phone.
        let w = warning(1_020_000_000, Some(2.0)).unwrap();
        assert!(
            w.contains("about 1.3 GB") && w.contains("reports 2 GB"),
            "{w}"
        );
        // The same model on an 8 GB laptop, SmolLM2 on the phone, and browsers that do not say.
        assert_eq!(warning(1_020_000_000, Some(8.0)), None);
        assert_eq!(warning(138_000_000, Some(2.0)), None);
        assert_eq!(warning(1_020_000_000, None), None);
    }
}
