//! The CPU engine's matrix products against the f32 reference on the dequantized weights, for
//! every weight type, one input (decode) and several (prefill, in tiles of two rows by four
//! inputs: odd rows and a partial tile included), f32 and 8-bit inputs. Natively this runs the
//! plain-Rust kernels; in wasm the SIMD128 ones, in Node:
//! `CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner cargo test
//! --target wasm32-unknown-unknown -p hearth-worker --test cpu_kernels` (`cargo xtask test`
//! runs both).

use hearth_worker::cpu::quantized::{InputPrecision, QuantMatrix, QuantizedInput};
use hearth_worker::cpu::{ops, WeightMatrix};
use hearth_worker::gguf::GgmlType;
use hearth_worker::quant;
use kernel_inputs::values;

mod kernel_inputs;

/// A `rows × cols` matrix of `ty` from fixed values, with its weights dequantized.
fn matrix(ty: GgmlType, rows: usize, cols: usize) -> (QuantMatrix, Vec<f32>) {
    let bytes: Vec<u8> = values(rows * cols, 1)
        .chunks_exact(cols)
        .flat_map(|row| quant::quantize(ty, row).unwrap())
        .collect();
    let weights = quant::dequantize_to_vec(ty, &bytes).unwrap();
    (QuantMatrix::new(ty, rows, cols, bytes).unwrap(), weights)
}

#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn f32_inputs_equal_the_reference() {
    // Three Q6_K super-blocks per row, so no kernel only sees one block.
    let (rows, cols) = (21, 768);
    for ty in [
        GgmlType::Q6K,
        GgmlType::Q8_0,
        GgmlType::F32,
        GgmlType::F16,
        GgmlType::Bf16,
    ] {
        let (m, weights) = matrix(ty, rows, cols);
        for n in [1, 3, 9] {
            let xs = values(n * cols, 2 + n as u64);
            let want = ops::matmul(&weights, rows, cols, &xs);
            let got = m.matmul(&xs);
            let scale = want.iter().fold(0f32, |a, v| a.max(v.abs()));
            for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                assert!(
                    (g - w).abs() <= 1e-5 * scale,
                    "{ty} n={n} [{i}]: {g} vs {w}"
                );
            }
        }
        assert_eq!(&*m.row_f32(5), &weights[5 * cols..6 * cols], "{ty} row 5");
    }
}

/// 8-bit inputs: the integer products equal the f32 reference on the dequantized weights and
/// the dequantized inputs (only the final scaling rounds), and stay within 1% of the products
/// with f32 inputs.
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
#[cfg_attr(not(target_arch = "wasm32"), test)]
fn int8_inputs_multiply_exactly_what_they_quantized() {
    let (rows, cols) = (16, 512);
    for ty in [GgmlType::Q6K, GgmlType::Q8_0] {
        let (m, weights) = matrix(ty, rows, cols);
        let m = m.with_precision(InputPrecision::Int8);
        for n in [1, 3] {
            let xs = values(n * cols, 8 + n as u64);
            let seen: Vec<f32> = xs
                .chunks_exact(cols)
                .flat_map(|x| {
                    let q = QuantizedInput::new(x);
                    q.qs.iter()
                        .enumerate()
                        .map(|(i, &v)| f32::from(v) * q.scales[i / QuantizedInput::BLOCK])
                        .collect::<Vec<_>>()
                })
                .collect();
            let got = m.matmul(&xs);
            let exact = ops::matmul(&weights, rows, cols, &seen);
            let f32_inputs = ops::matmul(&weights, rows, cols, &xs);
            let scale = f32_inputs.iter().fold(0f32, |a, v| a.max(v.abs()));
            for i in 0..n * rows {
                assert!(
                    (got[i] - exact[i]).abs() <= 1e-5 * scale,
                    "{ty} n={n} [{i}]: {} vs {}",
                    got[i],
                    exact[i]
                );
                assert!(
                    (got[i] - f32_inputs[i]).abs() <= 1e-2 * scale,
                    "{ty} n={n} [{i}]"
                );
            }
        }
    }
}
