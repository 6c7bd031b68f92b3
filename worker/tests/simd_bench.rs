//! Speed of the CPU engine's wasm SIMD kernels, in Node (the same V8 as Chromium): weight bytes
//! per second of one matrix product per weight type and input precision, one JSON line each
//! (`cargo xtask benchmarks` reads them). Not part of the tests: `CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner cargo test
//! --release --target wasm32-unknown-unknown -p hearth-worker --test simd_bench`.

#![cfg(target_arch = "wasm32")]

use hearth_worker::cpu::quantized::{InputPrecision, QuantMatrix};
use hearth_worker::cpu::WeightMatrix;
use hearth_worker::gguf::GgmlType;
use hearth_worker::quant;
use kernel_inputs::values;
use wasm_bindgen_test::wasm_bindgen_test;

mod kernel_inputs;

/// Weight bytes per second of each kernel on a 2048×2048 matrix (Llama 3.2 1B's attention
/// shape), one input. No assertion on speed.
/// Tokens of the prefill case.
const PREFILL: usize = 16;

#[wasm_bindgen_test]
fn bench_kernels() {
    let now = || js_sys::Date::now();
    let (rows, cols) = (2048, 2048);
    let xs = values(PREFILL * cols, 9);
    for ty in [GgmlType::Q6K, GgmlType::Q8_0, GgmlType::F32] {
        let bytes: Vec<u8> = values(rows * cols, 1)
            .chunks_exact(cols)
            .flat_map(|row| quant::quantize(ty, row).unwrap())
            .collect();
        let size = bytes.len();
        let m = QuantMatrix::new(ty, rows, cols, bytes).unwrap();
        // 8-bit inputs change only the Q6_K and Q8_0 products.
        let mut cases = vec![(InputPrecision::F32, 1), (InputPrecision::F32, PREFILL)];
        if ty != GgmlType::F32 {
            cases.insert(1, (InputPrecision::Int8, 1));
        }
        for (precision, tokens) in cases {
            let m = m.clone().with_precision(precision);
            let x = &xs[..tokens * cols];
            let _ = m.matmul(x);
            let (start, mut runs) = (now(), 0);
            while now() - start < 1000.0 {
                std::hint::black_box(m.matmul(x));
                runs += 1;
            }
            let seconds = (now() - start) / 1000.0;
            let inputs = match precision {
                InputPrecision::F32 => "f32",
                InputPrecision::Int8 => "int8",
            };
            wasm_bindgen_test::console_log!(
                "{{\"ty\":\"{ty}\",\"inputs\":\"{inputs}\",\"rows\":{rows},\"cols\":{cols},\"tokens\":{tokens},\"weight_bytes_per_s\":{:.0},\"weights_per_ns_per_token\":{:.3}}}",
                size as f64 * runs as f64 / seconds,
                (rows * cols * tokens) as f64 * runs as f64 / seconds / 1e9
            );
        }
    }
}
