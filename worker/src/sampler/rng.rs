//! The sampler's random numbers: PCG32 (`rand_pcg`), seedable and the same on every platform,
//! so a seed replays a conversation exactly, natively and in the browser.

use rand_core::{RngCore, SeedableRng};
use rand_pcg::Pcg32;

#[derive(Clone, Debug)]
pub struct SamplerRng(Pcg32);

impl SamplerRng {
    pub fn new(seed: u64) -> Self {
        SamplerRng(Pcg32::seed_from_u64(seed))
    }

    /// Uniform in [0, 1), with 53 random bits.
    pub fn next_f64(&mut self) -> f64 {
        (self.0.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
}
