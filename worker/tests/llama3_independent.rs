//! Llama 3 paths against a file our code did not write: `llama3-tiny.gguf`, written by
//! llama.cpp's Python `gguf` package (`golden/make_llama3_golden.py`, run by `cargo xtask
//! fixtures`), with float64 numpy goldens of it (`golden/llama3_tiny.json`). It has Llama 3.2's
//! RoPE frequency factors (`rope_freqs.weight`, as llama.cpp's converter computes them), a
//! tied 128256-row output, the real Llama 3 tokenizer as `llama-bpe` GGUF metadata with
//! `add_bos_token`, and a chat template that writes BOS itself.
//!
//! Tolerances: the CPU reference's last-position logits within 1e-3 × max|logit| of float64
//! (64 top ids and 512 fixed ids); greedy ids equal for 16 steps up to the first step where
//! the float64 top-1 − top-2 margin is below 0.01; the GPU engine against the CPU reference as
//! in `common/gpu_vs_cpu.rs`.

use common::gpu_vs_cpu::{ctx, greedy_agrees};
use hearth_worker::chat::{ChatDate, ChatTemplate, Message, RenderOptions};
use hearth_worker::cpu::CpuModel;
use hearth_worker::engine::{load_file, LoadOptions};
use hearth_worker::gguf::GgufHeader;
use hearth_worker::model::Config;
use hearth_worker::tokenizer::Tokenizer;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::path::PathBuf;

mod common;

use common::{argmax, floats, ids};

const FILE: &str = "llama3-tiny.gguf";
const REL_TOL: f32 = 1e-3;
const MIN_MARGIN: f64 = 0.01;
const BOS: u32 = 128_000;
/// Positions the models hold: the longest prompt (200) and 16 generated tokens fit.
const WINDOW: usize = 256;

fn golden() -> Value {
    common::golden("llama3_tiny.json")
}

fn path() -> PathBuf {
    common::fixture(FILE)
}

fn header() -> GgufHeader {
    let file = std::fs::File::open(path()).unwrap();
    GgufHeader::read_from(std::io::BufReader::new(file), None).unwrap()
}

fn cases() -> Vec<Value> {
    golden()["cases"].as_array().unwrap().clone()
}

/// Guards the rest: the goldens were computed from exactly this file.
#[test]
fn file_is_the_one_the_goldens_were_made_from() {
    let bytes = std::fs::read(path()).unwrap();
    let digest: String = Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(
        digest,
        golden()["file_sha256"].as_str().unwrap(),
        "{FILE} differs from the one make_llama3_golden.py made the goldens from"
    );
}

#[test]
fn config_has_the_llama3_rope_factors_and_a_tied_128k_output() {
    let g = golden();
    let config = Config::from_gguf(&header()).unwrap();
    assert_eq!(config.vocab_size, 128_256);
    assert!(config.tied_embeddings);
    assert_eq!(config.rope_base, 500_000.0);
    assert_eq!(
        (
            config.dim,
            config.n_heads,
            config.n_kv_heads,
            config.head_dim
        ),
        (256, 4, 2, 64)
    );
    let cpu = CpuModel::load_file(&path(), Some(WINDOW)).unwrap();
    assert!(cpu.weights.output.is_none());
    let want: Vec<f32> = floats(&g["rope_freqs"]).iter().map(|&f| f as f32).collect();
    assert_eq!(cpu.weights.rope_freqs.as_deref(), Some(want.as_slice()));
    // The converter's factors for base 500000 and 64 dims: 15 × 1, three in between, 14 × 32.
    assert_eq!(want.iter().filter(|&&f| f == 1.0).count(), 15);
    assert_eq!(want.iter().filter(|&&f| f == 32.0).count(), 14);
    assert!((want[15] - 1.651_329_3).abs() < 1e-6, "{}", want[15]);
}

#[test]
fn gguf_tokenizer_encodes_like_tiktoken() {
    let g = golden();
    let t = Tokenizer::from_gguf(&header()).unwrap();
    assert_eq!(t.vocab_size(), 128_256);
    assert_eq!((t.bos_token(), t.eos_token()), (Some(BOS), Some(128_009)));
    assert!(t.adds_bos());
    let text = g["text"]["text"].as_str().unwrap();
    let want = ids(&g["text"]["ids"]);
    assert_eq!(t.encode(text), want);
    assert_eq!(t.decode(&want).unwrap(), text);
}

#[test]
fn chat_template_writes_the_golden_prompt_with_one_bos() {
    let g = golden();
    let chat = &g["chat"];
    let t = Tokenizer::from_gguf(&header()).unwrap();
    let template = ChatTemplate::for_tokenizer(&t).unwrap();
    assert!(template.source().starts_with("{{- bos_token }}"));
    let messages: Vec<Message> = chat["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| Message::new(m["role"].as_str().unwrap(), m["content"].as_str().unwrap()))
        .collect();
    let d = floats(&chat["date"]);
    let options = RenderOptions {
        add_generation_prompt: true,
        date: ChatDate::new(d[0] as i32, d[1] as u32, d[2] as u32).unwrap(),
    };
    let rendered = template.render(&messages, &options).unwrap();
    assert_eq!(rendered, chat["rendered"].as_str().unwrap());
    let prompt = template.render_prompt(&messages, &options, &t).unwrap();
    let got = t.encode_prompt(&prompt);
    assert_eq!(got, ids(&chat["ids"]));
    // The vocabulary asks for BOS and the template writes it: still only one.
    assert_eq!(got.iter().filter(|&&id| id == BOS).count(), 1);
    assert_eq!(got[0], BOS);
    // The chat case of the forward goldens runs these very ids.
    assert_eq!(ids(&cases()[0]["ids"]), got);
}

#[test]
fn cpu_reference_matches_the_float64_oracle() {
    let g = golden();
    let subset = ids(&g["subset_ids"]);
    let mut model = CpuModel::load_file(&path(), Some(WINDOW)).unwrap();
    for case in cases() {
        let name = case["prompt"].as_str().unwrap();
        let prompt = ids(&case["ids"]);
        model.cache.clear();
        let logits = model.forward_batch(&prompt, 0).unwrap().to_vec();
        assert_eq!(logits.len(), 128_256);
        let max_abs = case["max_abs_logit"].as_f64().unwrap() as f32;
        let tol = REL_TOL * max_abs;
        let mut worst = 0f32;
        for (which, values) in [
            (ids(&case["top_ids"]), floats(&case["top_logits"])),
            (subset.clone(), floats(&case["subset_logits"])),
        ] {
            for (&id, &want) in which.iter().zip(&values) {
                let diff = (logits[id as usize] - want as f32).abs();
                worst = worst.max(diff);
                assert!(
                    diff <= tol,
                    "{name}: logit of {id} is {} but float64 says {want} (tolerance {tol})",
                    logits[id as usize]
                );
            }
        }

        let want = ids(&case["greedy_ids"]);
        let margins = floats(&case["greedy_margins"]);
        let mut step_logits = logits;
        let mut matched = 0;
        for (step, (&want_id, &margin)) in want.iter().zip(&margins).enumerate() {
            if margin < MIN_MARGIN {
                break;
            }
            let got = argmax(&step_logits);
            assert_eq!(got, want_id, "{name}: greedy step {step} (margin {margin})");
            matched += 1;
            if step + 1 < want.len() {
                step_logits = model.forward(got, prompt.len() + step).unwrap().to_vec();
            }
        }
        assert!(matched >= 8, "{name}: only {matched} greedy steps compared");
        println!(
            "{name}: {} prompt tokens, max |logit diff| {worst:.2e} (max |logit| {max_abs:.2}), greedy equal for {matched}/{}",
            prompt.len(),
            want.len()
        );
    }
}

/// The comparison above would catch RoPE factors left out: without them the long prompt's
/// logits miss the float64 ones by far more than the tolerance.
#[test]
fn ignoring_the_rope_factors_fails_the_oracle() {
    let mut model = CpuModel::load_file(&path(), Some(WINDOW)).unwrap();
    model.weights.rope_freqs = None;
    let case = cases().pop().unwrap();
    assert_eq!(case["prompt"], "long_ids");
    let logits = model.forward_batch(&ids(&case["ids"]), 0).unwrap();
    let worst = ids(&case["top_ids"])
        .iter()
        .zip(floats(&case["top_logits"]))
        .map(|(&id, want)| (logits[id as usize] - want as f32).abs())
        .fold(0f32, f32::max);
    let tol = REL_TOL * case["max_abs_logit"].as_f64().unwrap() as f32;
    assert!(worst > 10.0 * tol, "{worst} vs tolerance {tol}");
}

#[test]
fn gpu_greedy_matches_cpu_reference() {
    let mut cpu = CpuModel::load_file(&path(), Some(WINDOW)).unwrap();
    let options = LoadOptions {
        max_context: Some(WINDOW),
        ..LoadOptions::default()
    };
    let mut gpu = load_file(ctx(), &path(), options).unwrap();
    assert!(gpu.config().tied_embeddings);
    for case in cases() {
        let prompt = ids(&case["ids"]);
        let steps = greedy_agrees(&mut cpu, &mut gpu, &prompt, 16);
        assert!(
            steps >= 8,
            "{}: only {steps} steps before a near-tie",
            case["prompt"]
        );
    }
}
