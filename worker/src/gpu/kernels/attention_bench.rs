//! How long a decode step's attention takes per layer on the adapter, at several context
//! lengths and under several [`SplitRule`]s: the table the GPU rule is chosen from.
//!
//! A decode step records every layer's attention (and its merge, where it splits) in the one
//! compute pass of the step, between the layer's other products; here the layers' attentions
//! follow one another in one pass, each over a KV cache of its own, so each pays what it pays
//! in a step: its dispatches' fixed cost and the wait for the one before.
//!
//! Native only: it times with `Instant` and waits with a blocking device poll.

use super::attention::{Attention, AttentionBuffers, AttentionShape, KvCache, SplitRule};
use super::matmul::bench::{time_per_repeat, BenchError};
use super::matmul::MatmulLayout;
use super::params::StepUniform;
use crate::gpu::GpuContext;

/// One decode attention measured: a layer's time at `positions` cached positions (the new
/// token's included) under `rule`, which split them `splits` ways.
#[derive(Debug, Clone, PartialEq)]
pub struct AttentionTiming {
    pub positions: u32,
    pub rule: SplitRule,
    pub splits: u32,
    /// Seconds per layer.
    pub seconds: f64,
}

/// Times a one-token step's attention for `layers` layers of `shape` at each of `positions`
/// under each of `rules`, in `layout`: `repeats` steps per timed submit, the fastest of a few.
/// The cache holds zeros: the work does not depend on the values.
pub fn measure_attention(
    ctx: &GpuContext,
    layout: MatmulLayout,
    shape: AttentionShape,
    layers: u32,
    positions: &[u32],
    rules: &[SplitRule],
    repeats: usize,
) -> Result<Vec<AttentionTiming>, BenchError> {
    let device = &ctx.device;
    let capacity = positions.iter().copied().max().unwrap_or(1);
    let shape = AttentionShape { capacity, ..shape };
    let cache = KvCache::new(device, shape, layers);
    let zeros = |label: &str, floats: u32| {
        device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(label),
            size: u64::from(floats.max(1)) * 4,
            usage: wgpu::BufferUsages::STORAGE,
            mapped_at_creation: false,
        })
    };
    let q = zeros("bench attention q", shape.n_heads * shape.head_dim);
    let out = zeros("bench attention out", shape.n_heads * shape.head_dim);
    // Bound by the one-shot path only.
    let kv_new = zeros("bench attention k/v", shape.kv_row_len());
    let step = StepUniform::new(device);
    let kernels: Vec<_> = rules
        .iter()
        .map(|&rule| {
            let kernel = Attention::with_split_rule(device, layout, Some(shape), rule);
            let bindings: Vec<_> = (0..layers as usize)
                .map(|layer| {
                    let buffers = AttentionBuffers {
                        q: &q,
                        k_new: &kv_new,
                        v_new: &kv_new,
                        k_cache: cache.k(layer),
                        v_cache: cache.v(layer),
                        out: &out,
                    };
                    kernel.prepare(device, &step, shape, &buffers)
                })
                .collect();
            (rule, kernel, bindings)
        })
        .collect();
    let mut timings = Vec::new();
    // The rules take turns at each length, so that a change of clocks falls on all of them.
    for &n_pos in positions {
        let start_pos = n_pos.max(1) - 1;
        for (rule, kernel, bindings) in &kernels {
            step.write(&ctx.queue, kernel.step(1, start_pos));
            let seconds = time_per_repeat(ctx, repeats, |encoder, _| {
                let mut pass = encoder.begin_compute_pass(&Default::default());
                for binding in bindings {
                    kernel.encode_attend_into(&mut pass, binding, 1, start_pos);
                }
            })?;
            timings.push(AttentionTiming {
                positions: n_pos,
                rule: *rule,
                splits: rule.splits(1, start_pos),
                seconds: seconds / f64::from(layers.max(1)),
            });
        }
    }
    Ok(timings)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gpu::test_support::gpu;

    #[test]
    fn measures_each_rule_at_each_length() {
        let gpu = gpu();
        let shape = AttentionShape {
            n_heads: 4,
            n_kv_heads: 2,
            head_dim: 16,
            capacity: 0,
        };
        let rules = [
            SplitRule::NONE,
            SplitRule {
                per_split: 8,
                max_splits: 4,
            },
        ];
        let got = measure_attention(
            gpu,
            MatmulLayout::Cooperative,
            shape,
            2,
            &[1, 40],
            &rules,
            2,
        )
        .unwrap();
        let splits: Vec<_> = got.iter().map(|t| (t.positions, t.splits)).collect();
        assert_eq!(splits, [(1, 1), (1, 1), (40, 1), (40, 4)]);
        assert!(got.iter().all(|t| t.seconds > 0.0 && t.seconds.is_finite()));
    }
}
