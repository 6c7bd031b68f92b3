//! Words the user reads about their GPU.

use hearth_protocol::AdapterSummary;

/// One line such as "WebGPU on NVIDIA GeForce RTX 4070 (1 GiB per buffer, f16, subgroups)".
pub fn adapter_line(a: &AdapterSummary) -> String {
    let mut extras = vec![format!("{} per buffer", bytes(a.max_storage_binding))];
    if a.shader_f16 {
        extras.push("f16".into());
    }
    if a.subgroups {
        extras.push("subgroups".into());
    }
    let name = if a.name.trim().is_empty() {
        "an unnamed adapter"
    } else {
        a.name.trim()
    };
    format!("WebGPU on {name} ({})", extras.join(", "))
}

/// Binary units, as storage is reported elsewhere in the app.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 || value >= 100.0 || value.fract() == 0.0 {
        format!("{value:.0} {}", UNITS[unit])
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_naturally() {
        assert_eq!(bytes(0), "0 B");
        assert_eq!(bytes(1023), "1023 B");
        assert_eq!(bytes(1 << 30), "1 GiB");
        assert_eq!(bytes(1_500_000_000), "1.4 GiB");
        assert_eq!(bytes(134_217_728), "128 MiB");
    }

    #[test]
    fn adapter_line_names_capabilities() {
        let a = AdapterSummary {
            name: "SwiftShader Device".into(),
            backend: "BrowserWebGpu".into(),
            max_buffer_size: 1 << 30,
            max_storage_binding: 1 << 30,
            shader_f16: false,
            subgroups: true,
        };
        assert_eq!(
            adapter_line(&a),
            "WebGPU on SwiftShader Device (1 GiB per buffer, subgroups)"
        );
    }
}
