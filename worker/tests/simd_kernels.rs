//! The CPU engine's wasm SIMD kernels (only a wasm32 build has them; native builds run plain
//! Rust) against the f32 reference on the dequantized weights, for every weight type, one
//! input (decode) and several (prefill), f32 and 8-bit inputs. Runs in Node:
//! `CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner cargo test
//! --target wasm32-unknown-unknown -p hearth-worker --test simd_kernels` (`cargo xtask test`
//! does).

#![cfg(target_arch = "wasm32")]

use hearth_worker::cpu::quantized::{InputPrecision, QuantMatrix};
use hearth_worker::cpu::{ops, WeightMatrix};
use hearth_worker::gguf::GgmlType;
use hearth_worker::quant;
use wasm_bindgen_test::wasm_bindgen_test;

/// Values in [-1, 1) from a fixed xorshift sequence.
fn values(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 40) as f32 / (1u64 << 23) as f32 - 1.0
        })
        .collect()
}

fn check(ty: GgmlType, precision: InputPrecision, tolerance: f32) {
    // Two Q6_K super-blocks per row plus one more, so no kernel only sees one block.
    let (rows, cols) = (20, 768);
    let bytes: Vec<u8> = values(rows * cols, 1)
        .chunks_exact(cols)
        .flat_map(|row| quant::quantize(ty, row).unwrap())
        .collect();
    let weights = quant::dequantize_to_vec(ty, &bytes).unwrap();
    let m = QuantMatrix::new(ty, rows, cols, bytes)
        .unwrap()
        .with_precision(precision);
    for n in [1, 3] {
        let xs = values(n * cols, 2 + n as u64);
        let want = ops::matmul(&weights, rows, cols, &xs);
        let got = m.matmul(&xs);
        let scale = want.iter().fold(0f32, |a, v| a.max(v.abs()));
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            assert!(
                (g - w).abs() <= tolerance * scale,
                "{ty} {precision:?} n={n} [{i}]: {g} vs {w}"
            );
        }
    }
}

#[wasm_bindgen_test]
fn f32_inputs_equal_the_reference() {
    for ty in [
        GgmlType::Q6K,
        GgmlType::Q8_0,
        GgmlType::F32,
        GgmlType::F16,
        GgmlType::Bf16,
    ] {
        check(ty, InputPrecision::F32, 1e-5);
    }
}

#[wasm_bindgen_test]
fn int8_inputs_stay_within_one_percent() {
    for ty in [GgmlType::Q6K, GgmlType::Q8_0] {
        check(ty, InputPrecision::Int8, 1e-2);
    }
}
