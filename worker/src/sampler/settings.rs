//! Sampling settings and their defaults.

use super::SamplerError;

/// How the next token is chosen. The defaults (see [`Default`]) suit a small chat model:
///
/// | setting | default | off |
/// |---|---|---|
/// | `temperature` | 0.7 | 0 = greedy (always the most likely token) |
/// | `top_k` | 40 | 0 |
/// | `top_p` | 0.9 | 1.0 |
/// | `min_p` | 0.05 | 0.0 |
/// | `repetition_penalty` | 1.1 | 1.0 |
/// | `repetition_window` | 64 tokens | 0 |
/// | `seed` | 0x5EED (pass a fresh one per conversation for varied replies) | |
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SamplerSettings {
    /// Divides the logits before the final draw; 0 picks the most likely token.
    pub temperature: f32,
    /// Keep only the `top_k` most likely tokens (0 = no limit).
    pub top_k: usize,
    /// Keep the fewest most-likely tokens whose probabilities add up to at least `top_p`.
    pub top_p: f32,
    /// Drop tokens less likely than `min_p` times the most likely one.
    pub min_p: f32,
    /// CTRL-style penalty on tokens seen in the last `repetition_window` tokens: a positive
    /// logit is divided by it, a negative one multiplied.
    pub repetition_penalty: f32,
    pub repetition_window: usize,
    pub seed: u64,
}

impl Default for SamplerSettings {
    fn default() -> Self {
        SamplerSettings {
            temperature: 0.7,
            top_k: 40,
            top_p: 0.9,
            min_p: 0.05,
            repetition_penalty: 1.1,
            repetition_window: 64,
            seed: 0x5EED,
        }
    }
}

impl SamplerSettings {
    /// Always the most likely token, no penalty: reproducible output for tests.
    pub fn greedy() -> Self {
        SamplerSettings {
            temperature: 0.0,
            repetition_penalty: 1.0,
            ..Self::default()
        }
    }

    pub fn validate(&self) -> Result<(), SamplerError> {
        let bad = |what: String| Err(SamplerError::Settings(what));
        if !(self.temperature >= 0.0 && self.temperature.is_finite()) {
            return bad(format!("temperature {} (must be ≥ 0)", self.temperature));
        }
        if !(self.top_p > 0.0 && self.top_p <= 1.0) {
            return bad(format!("top_p {} (must be in (0, 1])", self.top_p));
        }
        if !(self.min_p >= 0.0 && self.min_p < 1.0) {
            return bad(format!("min_p {} (must be in [0, 1))", self.min_p));
        }
        if !(self.repetition_penalty > 0.0 && self.repetition_penalty.is_finite()) {
            return bad(format!(
                "repetition_penalty {} (must be > 0)",
                self.repetition_penalty
            ));
        }
        Ok(())
    }
}
