//! The CPU reference against a float64 numpy Llama (`golden/make_forward_golden.py`, over the
//! same GGUF files; weights dequantized by the PyPI `gguf` package).
//!
//! Tolerances: last-position logits within 1e-3 × max|logit| on the 64 top ids and 2048 fixed
//! pseudo-random ids; greedy ids equal for 16 steps, except that comparison stops at the first
//! step where the oracle's top-1 − top-2 margin is below 0.01 (f32 rounding may swap a
//! near-tie; after that the sequences may legitimately differ).

use hearth_worker::cpu::CpuModel;
use serde_json::Value;

const REL_TOL: f32 = 1e-3;
const MIN_MARGIN: f64 = 0.01;

mod common;

use common::{argmax, floats, ids};

fn golden() -> Value {
    common::golden("forward.json")
}

fn load(name: &str) -> CpuModel {
    CpuModel::load_file(&common::fixture(name), Some(256)).unwrap()
}

/// Checks one model file on the named prompts (all when `only` is empty); returns the last
/// prompt's logits.
fn check_model(file: &str, only: &[&str]) -> Vec<f32> {
    let g = golden();
    let subset = ids(&g["subset_ids"]);
    let prompts: Vec<&Value> = g["prompts"].as_array().unwrap().iter().collect();
    let mut model = load(file);
    let mut last = Vec::new();
    for case in g["models"][file].as_array().unwrap() {
        let name = case["prompt"].as_str().unwrap();
        if !only.is_empty() && !only.contains(&name) {
            continue;
        }
        let prompt = prompts
            .iter()
            .find(|p| p["name"] == name)
            .map(|p| ids(&p["ids"]))
            .unwrap();
        model.cache.clear();
        let logits = model.forward_batch(&prompt, 0).unwrap().to_vec();
        let max_abs = case["max_abs_logit"].as_f64().unwrap() as f32;
        let tol = REL_TOL * max_abs;
        let mut worst = 0.0f32;
        for (id_key, logit_key) in [("top_ids", "top_logits"), ("", "subset_logits")] {
            let which = if id_key.is_empty() {
                subset.clone()
            } else {
                ids(&case[id_key])
            };
            for (&id, &want) in which.iter().zip(&floats(&case[logit_key])) {
                let diff = (logits[id as usize] - want as f32).abs();
                worst = worst.max(diff);
                assert!(
                    diff <= tol,
                    "{file} {name}: logit of {id} is {} but the oracle says {want} (tolerance {tol})",
                    logits[id as usize]
                );
            }
        }

        let want = ids(&case["greedy_ids"]);
        let margins = floats(&case["greedy_margins"]);
        let mut step_logits = logits.clone();
        let mut matched = 0;
        for (step, (&want_id, &margin)) in want.iter().zip(&margins).enumerate() {
            if margin < MIN_MARGIN {
                break;
            }
            let got = argmax(&step_logits);
            assert_eq!(
                got, want_id,
                "{file} {name}: greedy step {step} (oracle margin {margin})"
            );
            matched += 1;
            if step + 1 < want.len() {
                step_logits = model.forward(got, prompt.len() + step).unwrap().to_vec();
            }
        }
        assert!(
            matched >= 4,
            "{file} {name}: only {matched} greedy steps compared"
        );
        println!(
            "{file} {name}: {} prompt tokens, max |logit diff| {worst:.2e} (max |logit| {max_abs:.2}), greedy equal for {matched}/16",
            prompt.len()
        );
        last = logits;
    }
    last
}

#[test]
fn q6_k_smollm2_matches_the_float64_oracle() {
    check_model("SmolLM2-135M-Instruct.Q6_K.gguf", &[]);
}

/// The F32 copy holds exactly the Q6_K file's dequantized weights: same logits, via the F32
/// load path.
#[test]
fn f32_smollm2_matches_the_float64_oracle() {
    check_model("SmolLM2-135M-Instruct.F32.gguf", &["chat_capital"]);
}
