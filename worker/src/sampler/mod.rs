//! Choosing the next token from the GPU's candidates.
//!
//! The GPU never hands the CPU 128k logits: it hands the top-K candidates (K ≥ 40) and the
//! log-normaliser `logsumexp` of the whole vocabulary's logits ([`Candidates`]). With the
//! normaliser every candidate's probability over the *full* vocabulary is known exactly, so
//! top-p and min-p cut where they would cut with all logits in hand.
//!
//! Order of the steps, as llama.cpp's default chain: repetition penalty, top-k, top-p, min-p,
//! then temperature (greedy when it is 0). Temperature last means top-p and min-p see the
//! model's own probabilities, which the normaliser gives exactly.

mod candidates;
mod rng;
#[allow(clippy::module_inception)]
mod sampler;
mod settings;

pub use candidates::Candidates;
pub use rng::SamplerRng;
pub use sampler::Sampler;
pub use settings::SamplerSettings;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum SamplerError {
    #[error("invalid sampler setting: {0}")]
    Settings(String),
    #[error("invalid candidates: {0}")]
    Candidates(String),
}
