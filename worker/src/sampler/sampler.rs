//! The sampling chain.

use super::candidates::logsumexp;
use super::{Candidates, SamplerError, SamplerRng, SamplerSettings};
use std::collections::VecDeque;

/// Picks tokens; remembers the recent ones for the repetition penalty.
#[derive(Clone, Debug)]
pub struct Sampler {
    settings: SamplerSettings,
    rng: SamplerRng,
    recent: VecDeque<u32>,
}

/// One candidate during the chain, in f64.
#[derive(Clone, Copy, Debug)]
struct Entry {
    id: u32,
    logit: f64,
}

impl Sampler {
    pub fn new(settings: SamplerSettings) -> Result<Self, SamplerError> {
        settings.validate()?;
        Ok(Sampler {
            settings,
            rng: SamplerRng::new(settings.seed),
            recent: VecDeque::new(),
        })
    }

    pub fn settings(&self) -> &SamplerSettings {
        &self.settings
    }

    /// Records tokens the model has seen (the prompt, or tokens chosen elsewhere), for the
    /// repetition penalty. [`Self::sample`] records its own choices.
    pub fn observe(&mut self, ids: &[u32]) {
        let window = self.settings.repetition_window;
        for &id in ids {
            self.recent.push_back(id);
            if self.recent.len() > window {
                self.recent.pop_front();
            }
        }
    }

    /// Forgets the recent tokens (a new conversation).
    pub fn reset(&mut self) {
        self.recent.clear();
    }

    /// Chooses the next token and records it.
    pub fn sample(&mut self, candidates: &Candidates) -> u32 {
        let (entries, _) = self.filter(candidates);
        let id = if self.settings.temperature <= 0.0 {
            entries[0].id
        } else {
            let t = f64::from(self.settings.temperature);
            let max = entries[0].logit;
            let weights: Vec<f64> = entries
                .iter()
                .map(|e| ((e.logit - max) / t).exp())
                .collect();
            let total: f64 = weights.iter().sum();
            let mut r = self.rng.next_f64() * total;
            let mut chosen = entries[entries.len() - 1].id;
            for (e, w) in entries.iter().zip(&weights) {
                if r < *w {
                    chosen = e.id;
                    break;
                }
                r -= w;
            }
            chosen
        };
        self.observe(&[id]);
        id
    }

    /// The tokens that may be drawn and the probability of each under the final draw
    /// (temperature applied), most likely first. Greedy: the single best token.
    pub fn distribution(&self, candidates: &Candidates) -> Vec<(u32, f64)> {
        let (entries, _) = self.filter(candidates);
        if self.settings.temperature <= 0.0 {
            return vec![(entries[0].id, 1.0)];
        }
        let t = f64::from(self.settings.temperature);
        let lse = logsumexp(entries.iter().map(|e| e.logit / t));
        entries
            .iter()
            .map(|e| (e.id, (e.logit / t - lse).exp()))
            .collect()
    }

    /// Penalty, then top-k, top-p and min-p. Returns the survivors sorted by logit (at least
    /// one) and the log-normaliser the cuts used.
    fn filter(&self, c: &Candidates) -> (Vec<Entry>, f64) {
        let s = &self.settings;
        let mut entries: Vec<Entry> = c
            .ids
            .iter()
            .zip(&c.logits)
            .map(|(&id, &logit)| Entry {
                id,
                logit: f64::from(logit),
            })
            .collect();
        let mut norm = f64::from(c.log_normalizer);

        // Repetition penalty on the candidates, with the normaliser corrected for the mass
        // they lose. (Penalised tokens outside the top-K keep their share of the normaliser:
        // their logits never reach the CPU. Their mass only shrinks, so this errs towards
        // cutting a little early.)
        if s.repetition_penalty != 1.0 && !self.recent.is_empty() {
            let p = f64::from(s.repetition_penalty);
            let mut removed = 0.0;
            let mut added = 0.0;
            for e in entries.iter_mut() {
                if self.recent.contains(&e.id) {
                    let before = e.logit;
                    e.logit = if before > 0.0 { before / p } else { before * p };
                    removed += (before - norm).exp();
                    added += (e.logit - norm).exp();
                }
            }
            let rest = (1.0 - removed + added).max(f64::MIN_POSITIVE);
            norm += rest.ln();
        }

        // Most likely first; ties keep the GPU's order.
        entries.sort_by(|a, b| b.logit.total_cmp(&a.logit));

        // Top-k. Like llama.cpp and Hugging Face, later cuts renormalise over what top-k kept;
        // without top-k (or when it keeps more than the candidates) the full normaliser holds.
        if s.top_k > 0 && s.top_k <= entries.len() {
            entries.truncate(s.top_k);
            norm = logsumexp(entries.iter().map(|e| e.logit));
        }

        // Top-p: the fewest tokens whose probability reaches top_p.
        if s.top_p < 1.0 {
            let mut cumulative = 0.0;
            let mut keep = entries.len();
            for (i, e) in entries.iter().enumerate() {
                cumulative += (e.logit - norm).exp();
                if cumulative >= f64::from(s.top_p) {
                    keep = i + 1;
                    break;
                }
            }
            entries.truncate(keep.max(1));
        }

        // Min-p: relative to the most likely token, so no normaliser is needed.
        if s.min_p > 0.0 {
            let floor = entries[0].logit + f64::from(s.min_p).ln();
            let keep = entries.iter().take_while(|e| e.logit >= floor).count();
            entries.truncate(keep.max(1));
        }
        (entries, norm)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> SamplerSettings {
        SamplerSettings {
            temperature: 1.0,
            top_k: 0,
            top_p: 1.0,
            min_p: 0.0,
            repetition_penalty: 1.0,
            repetition_window: 64,
            seed: 7,
        }
    }

    /// A full "vocabulary" of 1000 logits: a few strong tokens and a long tail.
    fn vocab_logits() -> Vec<f32> {
        (0..1000)
            .map(|i| match i {
                10 => 5.0,
                11 => 4.5,
                12 => 4.0,
                13 => 1.0,
                _ => -5.0 - ((i * 7919) % 1000) as f32 / 1000.0,
            })
            .collect()
    }

    fn probs(logits: &[f32]) -> Vec<f64> {
        let lse = logsumexp(logits.iter().map(|&l| f64::from(l)));
        logits.iter().map(|&l| (f64::from(l) - lse).exp()).collect()
    }

    #[test]
    fn greedy_takes_the_best_after_penalty() {
        let logits = vocab_logits();
        let c = Candidates::from_logits(&logits, 40).unwrap();
        let mut s = Sampler::new(SamplerSettings::greedy()).unwrap();
        assert_eq!(s.sample(&c), 10);
        let mut s = Sampler::new(SamplerSettings {
            repetition_penalty: 2.0,
            ..SamplerSettings::greedy()
        })
        .unwrap();
        s.observe(&[10]);
        // 5.0 / 2 = 2.5 < 4.5
        assert_eq!(s.sample(&c), 11);
    }

    #[test]
    fn top_p_uses_full_vocabulary_probabilities() {
        // Exact nucleus from all 1000 logits, compared with the one from 40 candidates.
        let logits = vocab_logits();
        let p = probs(&logits);
        let mut order: Vec<usize> = (0..logits.len()).collect();
        order.sort_by(|&a, &b| p[b].total_cmp(&p[a]));
        for top_p in [0.3f32, 0.5, 0.6, 0.9, 0.98] {
            let mut cum = 0.0;
            let mut exact = Vec::new();
            for &i in &order {
                exact.push(i as u32);
                cum += p[i];
                if cum >= f64::from(top_p) {
                    break;
                }
            }
            let c = Candidates::from_logits(&logits, 40).unwrap();
            let s = Sampler::new(SamplerSettings {
                top_p,
                ..settings()
            })
            .unwrap();
            let got: Vec<u32> = s.distribution(&c).iter().map(|(id, _)| *id).collect();
            assert_eq!(got, exact, "top_p {top_p}");
        }
        // p(10) is 0.495 over the vocabulary but 0.5004 over the 40 candidates alone: only
        // the full normaliser keeps token 11 at top_p 0.5.
        let c = Candidates::from_logits(&logits, 40).unwrap();
        let s = Sampler::new(SamplerSettings {
            top_p: 0.5,
            ..settings()
        })
        .unwrap();
        assert_eq!(s.distribution(&c).len(), 2);
    }

    #[test]
    fn min_p_and_top_k_cut() {
        let logits = vocab_logits();
        let c = Candidates::from_logits(&logits, 40).unwrap();
        let s = Sampler::new(SamplerSettings {
            min_p: 0.3,
            ..settings()
        })
        .unwrap();
        // e^(4.5-5) = 0.61, e^(4-5) = 0.37, e^(1-5) = 0.02
        let ids: Vec<u32> = s.distribution(&c).iter().map(|(id, _)| *id).collect();
        assert_eq!(ids, vec![10, 11, 12]);
        let s = Sampler::new(SamplerSettings {
            top_k: 2,
            ..settings()
        })
        .unwrap();
        let d = s.distribution(&c);
        assert_eq!(d.len(), 2);
        let expect = 1.0 / (1.0 + (-0.5f64).exp());
        assert!((d[0].1 - expect).abs() < 1e-9);
    }

    #[test]
    fn draws_follow_the_distribution_and_replay_with_a_seed() {
        let logits = vocab_logits();
        let c = Candidates::from_logits(&logits, 40).unwrap();
        let cfg = SamplerSettings {
            temperature: 0.8,
            top_k: 3,
            ..settings()
        };
        let mut s = Sampler::new(cfg).unwrap();
        let expected = s.distribution(&c);
        let n = 20_000;
        let mut counts = std::collections::HashMap::new();
        let draws: Vec<u32> = (0..n).map(|_| s.sample(&c)).collect();
        for d in &draws {
            *counts.entry(*d).or_insert(0usize) += 1;
        }
        for (id, p) in expected {
            let f = counts.get(&id).copied().unwrap_or(0) as f64 / n as f64;
            assert!((f - p).abs() < 0.015, "id {id}: {f} vs {p}");
        }
        let mut again = Sampler::new(cfg).unwrap();
        let replay: Vec<u32> = (0..n).map(|_| again.sample(&c)).collect();
        assert_eq!(draws, replay);
        let mut other = Sampler::new(SamplerSettings { seed: 8, ..cfg }).unwrap();
        let different: Vec<u32> = (0..100).map(|_| other.sample(&c)).collect();
        assert_ne!(&draws[..100], &different[..]);
    }

    #[test]
    fn penalty_window_forgets() {
        let mut s = Sampler::new(SamplerSettings {
            repetition_penalty: 3.0,
            repetition_window: 2,
            ..SamplerSettings::greedy()
        })
        .unwrap();
        let c = Candidates::new(vec![1, 2], vec![3.0, 2.0], 3.5).unwrap();
        s.observe(&[1]);
        assert_eq!(s.sample(&c), 2);
        s.observe(&[5, 6]);
        assert_eq!(s.sample(&c), 1);
    }

    #[test]
    fn rejects_bad_input() {
        assert!(Sampler::new(SamplerSettings {
            top_p: 0.0,
            ..settings()
        })
        .is_err());
        assert!(Sampler::new(SamplerSettings {
            temperature: f32::NAN,
            ..settings()
        })
        .is_err());
        assert!(Candidates::new(vec![], vec![], 0.0).is_err());
        assert!(Candidates::new(vec![1], vec![1.0, 2.0], 3.0).is_err());
        assert!(Candidates::new(vec![1], vec![f32::NAN], 3.0).is_err());
        assert!(Candidates::new(vec![1, 2], vec![5.0, 5.0], 5.0).is_err());
        assert!(Candidates::new(vec![1], vec![5.0], f32::NAN).is_err());
    }
}
