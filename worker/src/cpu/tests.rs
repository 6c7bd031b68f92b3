use super::*;
use crate::model::ModelError;
use std::io::Cursor;

fn tiny() -> CpuModel {
    let bytes = crate::model::tests::tiny_llama(|_, _| {});
    CpuModel::load(&mut Cursor::new(bytes), None).unwrap()
}

#[test]
fn batch_equals_token_by_token_and_truncate_reuses_the_prefix() {
    let tokens = [3u32, 17, 0, 39, 8, 22];
    let mut a = tiny();
    let mut one_by_one = Vec::new();
    for (pos, &t) in tokens.iter().enumerate() {
        one_by_one = a.forward(t, pos).unwrap().to_vec();
    }
    assert_eq!(one_by_one.len(), 40);
    assert!(one_by_one.iter().all(|x| x.is_finite()));

    let mut b = tiny();
    let batch = b.forward_batch(&tokens, 0).unwrap().to_vec();
    // Same arithmetic per position, so equal to the bit.
    assert_eq!(batch, one_by_one);
    assert_eq!(b.cache.len(), 6);
    assert_eq!(b.cache.keys(1).len(), 6 * 8);

    // A new turn: keep the first 3 positions, run a different continuation.
    b.cache.truncate(3);
    let resumed = b.forward_batch(&[5, 6], 3).unwrap().to_vec();
    let mut c = tiny();
    let fresh = c.forward_batch(&[3, 17, 0, 5, 6], 0).unwrap().to_vec();
    assert_eq!(resumed, fresh);
    // The last position's logits depend on the context.
    assert_ne!(resumed, batch);
}

#[test]
fn bad_calls_are_errors() {
    let mut m = tiny();
    assert!(matches!(
        m.forward(40, 0),
        Err(ModelError::TokenOutOfRange { token: 40, .. })
    ));
    assert!(matches!(
        m.forward(1, 1),
        Err(ModelError::PositionGap { pos: 1, cached: 0 })
    ));
    assert!(matches!(
        m.forward_batch(&[], 0),
        Err(ModelError::EmptyBatch)
    ));
    let mut small = CpuModel::load(
        &mut Cursor::new(crate::model::tests::tiny_llama(|_, _| {})),
        Some(2),
    )
    .unwrap();
    assert!(matches!(
        small.forward_batch(&[1, 2, 3], 0),
        Err(ModelError::ContextFull {
            pos: 2,
            context_len: 2
        })
    ));
    // Nothing was cached by the failed calls.
    assert_eq!(small.cache.len(), 0);
}

#[test]
fn truncated_file_is_an_error_not_a_panic() {
    let bytes = crate::model::tests::tiny_llama(|_, _| {});
    // The writer pads the end to the alignment: cut into the last tensor itself.
    for cut in [10, bytes.len() / 2, bytes.len() - 40] {
        let r = CpuModel::load(&mut Cursor::new(bytes[..cut].to_vec()), None);
        assert!(r.is_err(), "cut at {cut}");
    }
}

#[test]
fn tied_output_uses_the_embedding() {
    let bytes = crate::model::tests::tiny_llama(|_, t| t.retain(|(n, _)| n != "output.weight"));
    let m = CpuModel::load(&mut Cursor::new(bytes), None).unwrap();
    assert!(m.config.tied_embeddings && m.weights.output.is_none());

    let mut tied = tiny();
    tied.weights.output = None;
    let mut copied = tiny();
    copied.weights.output = Some(copied.weights.token_embd.clone());
    let a = tied.forward_batch(&[4, 9], 0).unwrap().to_vec();
    assert_eq!(a, copied.forward_batch(&[4, 9], 0).unwrap());
    assert_ne!(a, tiny().forward_batch(&[4, 9], 0).unwrap());
}
