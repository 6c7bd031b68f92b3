//! Shared by the GGUF and quantization tests: the real model fixture and the golden files that
//! `tests/golden/make_quant_golden.py` writes from the independent references.

use serde_json::Value;

pub const MODEL: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../.cache/fixtures/SmolLM2-135M-Instruct.Q4_1.gguf"
);

/// The whole real SmolLM2-135M-Instruct Q4_1 file (98 MB).
pub fn model_bytes() -> Vec<u8> {
    std::fs::read(MODEL).unwrap_or_else(|e| {
        panic!("{MODEL}: {e}. Run `cargo xtask fixtures` to fetch the test models.")
    })
}

pub fn golden(name: &str) -> Value {
    let path = format!("{}/tests/golden/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

pub fn hex(s: &str) -> Vec<u8> {
    assert!(s.len().is_multiple_of(2), "odd hex length");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex digit"))
        .collect()
}

pub fn hex_f32(s: &str) -> Vec<f32> {
    hex(s)
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

/// The script's `checksum`: Σ (wᵢ + 1)·(2i + 1) mod 2⁶⁴, as 16 hex digits.
pub fn checksum(words: impl IntoIterator<Item = u64>) -> String {
    let mut sum = 0u64;
    for (i, w) in words.into_iter().enumerate() {
        sum = sum.wrapping_add(w.wrapping_add(1).wrapping_mul(2 * i as u64 + 1));
    }
    format!("{sum:016x}")
}

pub fn checksum_f32(values: &[f32]) -> String {
    checksum(values.iter().map(|v| u64::from(v.to_bits())))
}

pub fn checksum_bytes(bytes: &[u8]) -> String {
    checksum(bytes.iter().map(|&b| u64::from(b)))
}

pub fn str_of(v: &Value) -> &str {
    v.as_str()
        .unwrap_or_else(|| panic!("expected a string, got {v}"))
}

pub fn u64_of(v: &Value) -> u64 {
    v.as_u64()
        .unwrap_or_else(|| panic!("expected an integer, got {v}"))
}
