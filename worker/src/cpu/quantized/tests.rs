use super::*;
use crate::cpu::{ops, CpuModel, Matrix, WeightMatrix};
use crate::gguf::GgmlType;
use crate::quant;
use rand::{Rng, SeedableRng};
use std::io::Cursor;

fn random(n: usize, seed: u64) -> Vec<f32> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    (0..n).map(|_| rng.random_range(-1.0f32..1.0)).collect()
}

/// The matrix product straight from the blocks equals the f32 reference on the dequantized
/// weights, for one input (decode) and several (prefill).
#[test]
fn quantized_matmul_equals_the_reference_on_dequantized_weights() {
    let (rows, cols) = (24, 512);
    for ty in [
        GgmlType::Q6K,
        GgmlType::Q8_0,
        GgmlType::F32,
        GgmlType::F16,
        GgmlType::Bf16,
    ] {
        let bytes: Vec<u8> = random(rows * cols, 1)
            .chunks_exact(cols)
            .flat_map(|row| quant::quantize(ty, row).unwrap())
            .collect();
        let reference = Matrix {
            rows,
            cols,
            data: quant::dequantize_to_vec(ty, &bytes).unwrap(),
        };
        let m = QuantMatrix::new(ty, rows, cols, bytes).unwrap();
        for n in [1, 3] {
            let xs = random(n * cols, 2 + n as u64);
            let want = ops::matmul(&reference.data, rows, cols, &xs);
            let got = m.matmul(&xs);
            let scale = want.iter().fold(0f32, |a, v| a.max(v.abs()));
            for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                assert!(
                    (g - w).abs() <= 1e-5 * scale,
                    "{ty} n={n} [{i}]: {g} vs {w}"
                );
            }
        }
        assert_eq!(&*m.row_f32(5), reference.row(5), "{ty} row 5");
    }
}

#[test]
fn a_matrix_of_the_wrong_size_or_type_is_refused() {
    let q8 = quant::quantize(GgmlType::Q8_0, &random(64, 3)).unwrap();
    assert!(QuantMatrix::new(GgmlType::Q8_0, 2, 32, q8.clone()).is_ok());
    assert!(matches!(
        QuantMatrix::new(GgmlType::Q8_0, 3, 32, q8.clone()),
        Err(matrix::MatrixError::Size { .. })
    ));
    assert!(matches!(
        QuantMatrix::new(GgmlType::Q8_0, 4, 16, q8.clone()),
        Err(matrix::MatrixError::PartialBlock { .. })
    ));
    assert!(matches!(
        QuantMatrix::new(GgmlType::Q2K, 1, 256, vec![0; 84]),
        Err(matrix::MatrixError::Unsupported { .. })
    ));
}

/// The tiny model streamed in pieces of several sizes runs exactly like the reference (its
/// weights are F32, so the arithmetic is the same).
#[test]
fn streamed_in_pieces_it_runs_like_the_reference() {
    let bytes = crate::model::tests::tiny_llama(|_, _| {});
    let tokens = [3u32, 17, 0, 39, 8];
    let mut reference = CpuModel::load(&mut Cursor::new(bytes.clone()), None).unwrap();
    let want = reference.forward_batch(&tokens, 0).unwrap().to_vec();
    for piece in [1, 7, 4096, bytes.len()] {
        let mut loader = CpuLoader::new(Some(bytes.len() as u64), None);
        for p in bytes.chunks(piece) {
            loader.push(p).unwrap();
        }
        let mut model = loader.finish().unwrap();
        assert_eq!(
            model.forward_batch(&tokens, 0).unwrap(),
            &want[..],
            "{piece}"
        );
    }
}

#[test]
fn a_cut_or_foreign_file_is_an_error() {
    let bytes = crate::model::tests::tiny_llama(|_, _| {});
    for cut in [10, bytes.len() / 2, bytes.len() * 9 / 10] {
        let mut loader = CpuLoader::new(Some(bytes.len() as u64), None);
        let pushed = loader.push(&bytes[..cut]);
        assert!(
            pushed.is_err() || loader.finish().is_err(),
            "cut at {cut} loaded"
        );
    }
    let mut loader = CpuLoader::new(None, None);
    assert!(loader.push(b"not a GGUF file at all, just text").is_err());
}

/// 8-bit inputs: the integer products equal the f32 reference on the dequantized weights and
/// the dequantized inputs (only the final scaling rounds), and stay within 1% of the product
/// with f32 inputs.
#[test]
fn int8_inputs_multiply_exactly_what_they_quantized() {
    let (rows, cols) = (16, 512);
    for ty in [GgmlType::Q6K, GgmlType::Q8_0] {
        let bytes: Vec<u8> = random(rows * cols, 7)
            .chunks_exact(cols)
            .flat_map(|row| quant::quantize(ty, row).unwrap())
            .collect();
        let weights = quant::dequantize_to_vec(ty, &bytes).unwrap();
        let m = QuantMatrix::new(ty, rows, cols, bytes)
            .unwrap()
            .with_precision(InputPrecision::Int8);
        let x = random(cols, 8);
        let q = input::QuantizedInput::new(&x);
        let x_seen: Vec<f32> =
            q.qs.iter()
                .enumerate()
                .map(|(i, &v)| f32::from(v) * q.scales[i / input::BLOCK])
                .collect();
        let got = m.matmul(&x);
        let exact = ops::matmul(&weights, rows, cols, &x_seen);
        let f32_inputs = ops::matmul(&weights, rows, cols, &x);
        let scale = f32_inputs.iter().fold(0f32, |a, v| a.max(v.abs()));
        for r in 0..rows {
            assert!((got[r] - exact[r]).abs() <= 1e-5 * scale, "{ty} [{r}]");
            assert!((got[r] - f32_inputs[r]).abs() <= 1e-2 * scale, "{ty} [{r}]");
        }
    }
}
