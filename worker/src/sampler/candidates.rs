//! What the GPU hands over for one sampling step.

use super::SamplerError;

/// The top candidates of one step, plus the full vocabulary's log-normaliser.
#[derive(Clone, Debug, PartialEq)]
pub struct Candidates {
    pub ids: Vec<u32>,
    pub logits: Vec<f32>,
    /// `logsumexp` of all logits of the vocabulary (not only the candidates').
    pub log_normalizer: f32,
}

impl Candidates {
    /// Checks the GPU's hand-over: same number of ids and logits, at least one, no NaN, and
    /// a normaliser no smaller than the candidates' own logsumexp.
    pub fn new(ids: Vec<u32>, logits: Vec<f32>, log_normalizer: f32) -> Result<Self, SamplerError> {
        let bad = |what: String| Err(SamplerError::Candidates(what));
        if ids.is_empty() {
            return bad("no candidates".into());
        }
        if ids.len() != logits.len() {
            return bad(format!("{} ids but {} logits", ids.len(), logits.len()));
        }
        if logits.iter().any(|l| l.is_nan() || *l == f32::INFINITY) {
            return bad("a logit is NaN or +inf".into());
        }
        if !log_normalizer.is_finite() {
            return bad(format!("log-normaliser {log_normalizer}"));
        }
        let own = logsumexp(logits.iter().map(|&l| f64::from(l)));
        // f32 rounding on the GPU: allow a little slack.
        if f64::from(log_normalizer) < own - 1e-3 * own.abs().max(1.0) {
            return bad(format!(
                "log-normaliser {log_normalizer} is below the candidates' own {own}"
            ));
        }
        Ok(Candidates {
            ids,
            logits,
            log_normalizer,
        })
    }

    /// What the GPU computes, done on the CPU from a full logit vector: the `k` largest (ties
    /// to the lower id) and the logsumexp of all. The reference for the GPU's top-K kernel.
    pub fn from_logits(logits: &[f32], k: usize) -> Result<Self, SamplerError> {
        let mut order: Vec<u32> = (0..logits.len() as u32).collect();
        order.sort_by(|&a, &b| {
            logits[b as usize]
                .total_cmp(&logits[a as usize])
                .then(a.cmp(&b))
        });
        order.truncate(k.max(1));
        let kept = order.iter().map(|&i| logits[i as usize]).collect();
        let lse = logsumexp(logits.iter().map(|&l| f64::from(l))) as f32;
        Candidates::new(order, kept, lse)
    }
}

pub(crate) fn logsumexp(values: impl Iterator<Item = f64> + Clone) -> f64 {
    let max = values.clone().fold(f64::NEG_INFINITY, f64::max);
    if max == f64::NEG_INFINITY {
        return max;
    }
    max + values.map(|v| (v - max).exp()).sum::<f64>().ln()
}
