//! The CPU engine (weights kept in their GGUF blocks) against the f32 CPU reference on the real
//! SmolLM2-135M-Instruct Q6_K (Q8_0 and Q6_K matrices): the same greedy ids, step by step, up
//! to the first near-tie of the reference, and logits within 1e-4 of max|logit|.

use common::gpu_vs_cpu::{top2, MIN_MARGIN};
use hearth_worker::cpu::quantized::CpuLoader;
use hearth_worker::cpu::CpuModel;
use hearth_worker::gguf::GgufHeader;
use hearth_worker::tokenizer::Tokenizer;

mod common;

const SMOL: &str = "SmolLM2-135M-Instruct.Q6_K.gguf";

#[test]
fn smollm2_greedy_matches_the_reference() {
    let path = common::fixture(SMOL);
    let file = std::fs::File::open(&path).unwrap();
    let header = GgufHeader::read_from(std::io::BufReader::new(file), None).unwrap();
    let tokenizer = Tokenizer::from_gguf(&header).unwrap();
    let mut reference = CpuModel::load_file(&path, Some(128)).unwrap();
    let mut engine = CpuLoader::load_file(&path, Some(128)).unwrap();
    // The weights stay in their GGUF encoding: no more memory than the file's tensors.
    let gguf_bytes: u64 = header.tensors.iter().map(|t| t.byte_size().unwrap()).sum();
    let held = engine.weights.token_embd.bytes()
        + engine.weights.output.as_ref().map_or(0, |m| m.bytes())
        + engine
            .weights
            .layers
            .iter()
            .map(|l| {
                [&l.wq, &l.wk, &l.wv, &l.wo, &l.gate, &l.up, &l.down]
                    .iter()
                    .map(|m| m.bytes())
                    .sum::<usize>()
            })
            .sum::<usize>();
    assert!(
        held as u64 <= gguf_bytes,
        "{held} bytes held for {gguf_bytes}"
    );
    for text in [
        "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n",
        "Once upon a time, in a small village by the sea,",
    ] {
        let prompt = tokenizer.encode_with_specials(text);
        reference.cache.clear();
        engine.cache.clear();
        let mut want = reference.forward_batch(&prompt, 0).unwrap().to_vec();
        let mut got = engine.forward_batch(&prompt, 0).unwrap().to_vec();
        let mut steps = 0;
        for pos in prompt.len()..prompt.len() + 24 {
            let scale = want.iter().fold(1f32, |m, l| m.max(l.abs()));
            let worst = want
                .iter()
                .zip(&got)
                .fold(0f32, |m, (w, g)| m.max((w - g).abs()));
            assert!(worst <= 1e-4 * scale, "{text:?} step {steps}: {worst}");
            let (id, margin) = top2(&want);
            if margin < MIN_MARGIN {
                break;
            }
            assert_eq!(top2(&got).0, id, "{text:?} step {steps}");
            want = reference.forward(id, pos).unwrap().to_vec();
            got = engine.forward(id, pos).unwrap().to_vec();
            steps += 1;
        }
        assert!(
            steps >= 16,
            "{text:?}: only {steps} steps before a near-tie"
        );
    }
}
