//! The GPU engine against the CPU reference, step by step (shared by the engine tests).
//!
//! Tolerances: at every step the GPU's top-K logits equal the CPU reference's logits of the
//! same ids within 1e-3 × max|logit| and the GPU's log-normaliser within the same; greedy ids
//! are equal, except that the comparison stops at the first step where the CPU reference's
//! top-1 − top-2 margin is below 1e-3 (f32 rounding in a different order may swap a near-tie;
//! after that the sequences may legitimately differ).

use hearth_worker::cpu::CpuModel;
use hearth_worker::engine::{EngineError, GpuModel};
use hearth_worker::gpu::GpuContext;
use hearth_worker::sampler::Candidates;
use std::sync::{Arc, OnceLock};

/// GPU logits may differ from the CPU reference's by this much of max|logit|.
pub const REL_TOL: f32 = 1e-3;
/// Greedy ids are compared while the CPU reference's top-1 − top-2 margin is at least this.
pub const MIN_MARGIN: f32 = 1e-3;
/// Candidates read back per step (their logits are compared too).
pub const K: u32 = 8;

pub fn ctx() -> Arc<GpuContext> {
    static CTX: OnceLock<Arc<GpuContext>> = OnceLock::new();
    CTX.get_or_init(|| {
        let dir = std::env::temp_dir().join("hearth-xdg");
        if std::env::var_os("XDG_RUNTIME_DIR").is_none() {
            let _ = std::fs::create_dir_all(&dir);
            std::env::set_var("XDG_RUNTIME_DIR", &dir);
        }
        Arc::new(pollster::block_on(GpuContext::new()).expect("a Vulkan adapter (lavapipe)"))
    })
    .clone()
}

pub fn forward(
    gpu: &mut GpuModel,
    tokens: &[u32],
    start: usize,
    k: u32,
) -> Result<Candidates, EngineError> {
    pollster::block_on(gpu.forward(tokens, start, k))
}

/// CPU argmax and its margin over the runner-up.
pub fn top2(logits: &[f32]) -> (u32, f32) {
    let mut best = (0usize, f32::NEG_INFINITY);
    let mut second = f32::NEG_INFINITY;
    for (i, &l) in logits.iter().enumerate() {
        if l > best.1 {
            second = best.1;
            best = (i, l);
        } else if l > second {
            second = l;
        }
    }
    (best.0 as u32, best.1 - second)
}

/// Compares one step; returns the CPU's greedy id (`None` at a near-tie) and the largest
/// |GPU − CPU| / max|logit| over the candidates.
pub fn compare_step(what: &str, cpu: &[f32], gpu: &Candidates) -> (Option<u32>, f32) {
    let scale = cpu.iter().fold(0f32, |m, l| m.max(l.abs())).max(1.0);
    let tol = REL_TOL * scale;
    let mut worst = 0f32;
    for (&id, &logit) in gpu.ids.iter().zip(&gpu.logits) {
        let want = cpu[id as usize];
        worst = worst.max((logit - want).abs() / scale);
        assert!(
            (logit - want).abs() <= tol,
            "{what}: logit of id {id}: GPU {logit}, CPU {want} (tolerance {tol})"
        );
    }
    let max = cpu
        .iter()
        .map(|&l| f64::from(l))
        .fold(f64::NEG_INFINITY, f64::max);
    let lse = max
        + cpu
            .iter()
            .map(|&l| (f64::from(l) - max).exp())
            .sum::<f64>()
            .ln();
    assert!(
        (f64::from(gpu.log_normalizer) - lse).abs() <= f64::from(tol),
        "{what}: log-normaliser GPU {}, CPU {lse}",
        gpu.log_normalizer
    );
    let (id, margin) = top2(cpu);
    if margin < MIN_MARGIN {
        return (None, worst);
    }
    assert_eq!(gpu.ids[0], id, "{what}: greedy id");
    (Some(id), worst)
}

/// Greedy decoding on both from `prompt` for `steps` tokens; returns the steps compared.
pub fn greedy_agrees(
    cpu: &mut CpuModel,
    gpu: &mut GpuModel,
    prompt: &[u32],
    steps: usize,
) -> usize {
    cpu.cache.clear();
    let mut cpu_logits = cpu.forward_batch(prompt, 0).unwrap().to_vec();
    let mut cand = forward(gpu, prompt, 0, K).unwrap();
    let mut worst = 0f32;
    for step in 0..steps {
        let pos = prompt.len() + step;
        let (id, err) = compare_step(&format!("step {step}"), &cpu_logits, &cand);
        worst = worst.max(err);
        let Some(id) = id else {
            eprintln!("{}: {step} greedy steps equal, then a near-tie; worst logit error {worst:.2e} of max|logit|", describe(prompt));
            return step;
        };
        cpu_logits = cpu.forward(id, pos).unwrap().to_vec();
        cand = forward(gpu, &[id], pos, K).unwrap();
    }
    eprintln!(
        "{}: {steps} greedy steps equal; worst logit error {worst:.2e} of max|logit|",
        describe(prompt)
    );
    steps
}

/// A prompt in a log line: its length and first ids.
fn describe(prompt: &[u32]) -> String {
    let head = &prompt[..prompt.len().min(12)];
    format!("{} tokens {head:?}", prompt.len())
}
