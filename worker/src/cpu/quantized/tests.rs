use super::*;
use crate::cpu::CpuModel;
use crate::gguf::GgmlType;
use crate::quant;
use rand::{Rng, SeedableRng};
use std::io::Cursor;

fn random(n: usize, seed: u64) -> Vec<f32> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    (0..n).map(|_| rng.random_range(-1.0f32..1.0)).collect()
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
