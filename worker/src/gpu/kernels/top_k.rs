//! Top-K candidates and the full-vocabulary log-normaliser for the sampler, computed on the
//! GPU so that decode reads back `16 + 8·K` bytes (528 for K = 64), never the logits.
//!
//! Rank order: larger logit first; equal logits rank the lower token id first (as
//! [`Candidates::from_logits`], the CPU twin). On GPUs `top_k.wgsl` sorts chunks in workgroup
//! memory (`k == 1` takes an argmax fast path: tree reductions, no sorting); on software
//! adapters `top_k_scan.wgsl` walks chunks one invocation each, with no barrier (its header
//! says why). Both have the same output format.
//!
//! Output buffer, little-endian u32 words: `logsumexp` (f32 bits), `k`, 0, 0, then `ids[k]`,
//! then `logits[k]` (f32 bits). Parse it with [`parse_top_k_output`].

use super::grid::dispatch_spread;
use super::matmul::MatmulLayout;
use super::params::{compute_pipeline_with, in_pass, shape_uniform};
use crate::sampler::{Candidates, SamplerError};
use std::sync::OnceLock;

/// Logits per stage-1 workgroup of top_k.wgsl (`SLOTS` in the shader; GPUs only).
const SLOTS: u32 = 1024;

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Shape {
    vocab: u32,
    k: u32,
    n_partials: u32,
    logits_offset: u32,
}

/// Logits per stage-1 invocation of top_k_scan.wgsl (`CHUNK`), and its largest k (`K_MAX`).
const SCAN_CHUNK: u32 = 512;
const SCAN_MAX_K: u32 = 128;
/// Invocations per `scan_partials` workgroup (`WG`).
const SCAN_WORKGROUP: u32 = 4;

pub struct TopK {
    module: wgpu::ShaderModule,
    /// Software adapters: top_k_scan.wgsl's pipelines serve every k.
    scan: bool,
    workgroup: f64,
    partial_top_k: wgpu::ComputePipeline,
    merge_top_k: wgpu::ComputePipeline,
    /// The argmax pair (`k == 1`), built on first use: a chat never asks for it (greedy replies
    /// take 2 candidates), and each pipeline is a compile (~0.1 s on SwiftShader).
    argmax: OnceLock<(wgpu::ComputePipeline, wgpu::ComputePipeline)>,
    max_per_dim: u32,
    /// Logits per stage-1 workgroup.
    chunk: u32,
}

/// Everything one top-K over one logits row needs, built once and reused every decode step.
pub struct TopKBinding {
    partial_pipeline: wgpu::ComputePipeline,
    merge_pipeline: wgpu::ComputePipeline,
    partial: wgpu::BindGroup,
    merge: wgpu::BindGroup,
    shape: wgpu::Buffer,
    output: wgpu::Buffer,
    vocab: u32,
    k: u32,
    n_partials: u32,
}

impl TopKBinding {
    /// The small result buffer (`STORAGE | COPY_SRC`); copy [`Self::output_size`] bytes of it
    /// to a mappable buffer to read it.
    pub fn output(&self) -> &wgpu::Buffer {
        &self.output
    }

    pub fn output_size(&self) -> u64 {
        top_k_output_size(self.k)
    }

    pub fn k(&self) -> u32 {
        self.k
    }

    /// Selects which row of the logits buffer the next submit ranks: it starts at element
    /// `offset` (e.g. `(n_tokens - 1) * vocab` for the last token of a prefill batch).
    pub fn set_logits_offset(&self, queue: &wgpu::Queue, offset: u32) {
        queue.write_buffer(&self.shape, 12, bytemuck::bytes_of(&offset));
    }
}

/// Bytes of the output for `k` candidates.
pub fn top_k_output_size(k: u32) -> u64 {
    16 + 8 * u64::from(k)
}

/// Turns the output buffer's bytes into the sampler's hand-over.
pub fn parse_top_k_output(bytes: &[u8], k: u32) -> Result<Candidates, SamplerError> {
    let k = k as usize;
    if bytes.len() < top_k_output_size(k as u32) as usize {
        return Err(SamplerError::Candidates(format!(
            "top-k output of {} bytes is short for k = {k}",
            bytes.len()
        )));
    }
    let word = |i: usize| u32::from_le_bytes(bytes[4 * i..4 * i + 4].try_into().unwrap());
    let log_normalizer = f32::from_bits(word(0));
    let ids = (0..k).map(|j| word(4 + j)).collect();
    let logits = (0..k).map(|j| f32::from_bits(word(4 + k + j))).collect();
    Candidates::new(ids, logits, log_normalizer)
}

impl TopK {
    /// `layout` picks the kernels: top_k.wgsl on GPUs (workgroups of
    /// [`MatmulLayout::reduction_workgroup`]), top_k_scan.wgsl on software adapters.
    pub fn new(device: &wgpu::Device, layout: MatmulLayout) -> Self {
        if layout == MatmulLayout::RowPerInvocation {
            let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
                label: Some("top_k scan"),
                source: wgpu::ShaderSource::Wgsl(
                    concat!(
                        include_str!("top_k_common.wgsl"),
                        include_str!("top_k_scan.wgsl")
                    )
                    .into(),
                ),
            });
            let pipeline = |entry: &str| compute_pipeline_with(device, &module, entry, entry, &[]);
            return Self {
                partial_top_k: pipeline("scan_partials"),
                merge_top_k: pipeline("scan_merge"),
                argmax: OnceLock::new(),
                module,
                scan: true,
                workgroup: f64::from(SCAN_WORKGROUP),
                max_per_dim: device.limits().max_compute_workgroups_per_dimension,
                chunk: SCAN_CHUNK,
            };
        }
        let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some("top_k"),
            source: wgpu::ShaderSource::Wgsl(
                concat!(
                    include_str!("top_k_common.wgsl"),
                    include_str!("top_k.wgsl")
                )
                .into(),
            ),
        });
        let workgroup = layout.reduction_workgroup(256);
        let wg = [("WG", workgroup)];
        let pipeline = |entry: &str| compute_pipeline_with(device, &module, entry, entry, &wg);
        Self {
            partial_top_k: pipeline("partial_top_k"),
            merge_top_k: pipeline("merge_top_k"),
            argmax: OnceLock::new(),
            module,
            scan: false,
            workgroup,
            max_per_dim: device.limits().max_compute_workgroups_per_dimension,
            chunk: SLOTS,
        }
    }

    /// Largest supported `k` (512 on GPUs, where a merge round must hold the best `k` plus at
    /// least one chunk list; 128 on software adapters, the scan's list).
    pub fn max_k(&self) -> u32 {
        if self.scan {
            SCAN_MAX_K
        } else {
            self.chunk / 2
        }
    }

    /// Caps the workgroups per dispatch dimension (tests force the 2-D grid with a small cap).
    pub fn with_max_workgroups_per_dim(mut self, max_per_dim: u32) -> Self {
        self.max_per_dim = max_per_dim;
        self
    }

    /// Binds a logits buffer (f32; the row at element `logits_offset`, `vocab` long) and makes
    /// the scratch and output buffers. `1 <= k <= min(vocab, max_k)`; `k == 1` is argmax.
    pub fn prepare(
        &self,
        device: &wgpu::Device,
        logits: &wgpu::Buffer,
        logits_offset: u32,
        vocab: u32,
        k: u32,
    ) -> TopKBinding {
        assert!(
            (1..=self.max_k().min(vocab)).contains(&k),
            "top-k: k = {k} with a vocabulary of {vocab} (at most {})",
            self.max_k()
        );
        let n_partials = vocab.div_ceil(self.chunk);
        let shape = shape_uniform(
            device,
            "top_k shape",
            &Shape {
                vocab,
                k,
                n_partials,
                logits_offset,
            },
        );
        let partials = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("top_k partials"),
            size: u64::from(n_partials) * u64::from(2 * k + 2) * 4,
            usage: wgpu::BufferUsages::STORAGE,
            mapped_at_creation: false,
        });
        let output = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("top_k output"),
            size: top_k_output_size(k),
            usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
            mapped_at_creation: false,
        });
        let (partial_pipeline, merge_pipeline) = self.pipelines(device, k);
        let bind = |pipeline: &wgpu::ComputePipeline, entries: &[(u32, &wgpu::Buffer)]| {
            let entries: Vec<_> = entries
                .iter()
                .map(|&(binding, b)| wgpu::BindGroupEntry {
                    binding,
                    resource: b.as_entire_binding(),
                })
                .collect();
            device.create_bind_group(&wgpu::BindGroupDescriptor {
                label: Some("top_k"),
                layout: &pipeline.get_bind_group_layout(0),
                entries: &entries,
            })
        };
        let partial = bind(
            partial_pipeline,
            &[(0, logits), (1, &partials), (2, &shape)],
        );
        let merge = bind(merge_pipeline, &[(1, &partials), (2, &shape), (3, &output)]);
        TopKBinding {
            partial_pipeline: partial_pipeline.clone(),
            merge_pipeline: merge_pipeline.clone(),
            partial,
            merge,
            shape,
            output,
            vocab,
            k,
            n_partials,
        }
    }

    fn pipelines(
        &self,
        device: &wgpu::Device,
        k: u32,
    ) -> (&wgpu::ComputePipeline, &wgpu::ComputePipeline) {
        if k == 1 && !self.scan {
            let (partial, merge) = self.argmax.get_or_init(|| {
                let wg = [("WG", self.workgroup)];
                let pipeline =
                    |entry: &str| compute_pipeline_with(device, &self.module, entry, entry, &wg);
                (pipeline("partial_argmax"), pipeline("merge_argmax"))
            });
            (partial, merge)
        } else {
            (&self.partial_top_k, &self.merge_top_k)
        }
    }

    /// Records both stages into an open compute pass.
    pub fn encode_into(&self, pass: &mut wgpu::ComputePass<'_>, binding: &TopKBinding) {
        debug_assert_eq!(binding.n_partials, binding.vocab.div_ceil(self.chunk));
        let (partial, merge) = (&binding.partial_pipeline, &binding.merge_pipeline);
        let per_workgroup = if self.scan { SCAN_WORKGROUP } else { 1 };
        dispatch_spread(
            pass,
            partial,
            &binding.partial,
            binding.n_partials.div_ceil(per_workgroup),
            self.max_per_dim,
        );
        pass.set_pipeline(merge);
        pass.set_bind_group(0, &binding.merge, &[]);
        super::grid::dispatch(pass, 1, 1);
    }

    /// One-shot: prepares and records in a pass of its own; read the returned binding's output.
    pub fn encode(
        &self,
        device: &wgpu::Device,
        encoder: &mut wgpu::CommandEncoder,
        logits: &wgpu::Buffer,
        vocab: u32,
        k: u32,
    ) -> TopKBinding {
        let binding = self.prepare(device, logits, 0, vocab, k);
        in_pass(encoder, "top_k", |pass| self.encode_into(pass, &binding));
        binding
    }
}

/// The CPU twin: the `k` best (ties to the lower id) and the f64 logsumexp of all logits.
pub fn top_k_cpu(logits: &[f32], k: usize) -> (Vec<u32>, Vec<f32>, f64) {
    let mut order: Vec<u32> = (0..logits.len() as u32).collect();
    order.sort_by(|&a, &b| {
        logits[b as usize]
            .total_cmp(&logits[a as usize])
            .then(a.cmp(&b))
    });
    order.truncate(k);
    let values = order.iter().map(|&i| logits[i as usize]).collect();
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
    let sum: f64 = logits.iter().map(|&l| (f64::from(l) - max).exp()).sum();
    (order, values, max + sum.ln())
}

#[cfg(test)]
mod tests {
    use super::super::params::test_util::{random, storage};
    use super::*;
    use crate::gpu::{read_buffer, test_support::gpu};

    fn run(logits: &[f32], k: u32, max_per_dim: u32, layout: MatmulLayout) -> Candidates {
        let gpu = gpu();
        let buffer = storage(gpu, logits);
        let kernel = TopK::new(&gpu.device, layout).with_max_workgroups_per_dim(max_per_dim);
        let mut encoder = gpu.device.create_command_encoder(&Default::default());
        let binding = kernel.encode(&gpu.device, &mut encoder, &buffer, logits.len() as u32, k);
        gpu.queue.submit([encoder.finish()]);
        let bytes =
            pollster::block_on(read_buffer(gpu, binding.output(), binding.output_size())).unwrap();
        parse_top_k_output(&bytes, k).unwrap()
    }

    /// Ids and logits exactly equal to the twin's; logsumexp within 1e-5 relative.
    fn check(logits: &[f32], k: u32, max_per_dim: u32) {
        let (ids, values, lse) = top_k_cpu(logits, k as usize);
        for layout in MatmulLayout::ALL {
            let got = run(logits, k, max_per_dim, layout);
            let what = format!("{layout:?}, vocab {} k {k}", logits.len());
            assert_eq!(got.ids, ids, "ids, {what}");
            assert_eq!(got.logits, values, "logits, {what}");
            let rel = (f64::from(got.log_normalizer) - lse).abs() / lse.abs().max(1.0);
            assert!(
                rel < 1e-5,
                "logsumexp {} vs {lse} (rel {rel:e}), {what}",
                got.log_normalizer
            );
        }
    }

    /// Logits as a model gives them, with runs of exact ties sprinkled in (some at the top).
    fn logits_with_ties(len: usize, seed: u64) -> Vec<f32> {
        let mut v = random(len, seed, 12.0);
        for i in (0..len).step_by(997) {
            v[i] = 15.5;
        }
        for i in (5..len).step_by(3001) {
            v[i] = v[i - 5];
        }
        v
    }

    #[test]
    fn llama_vocabulary_top_k_and_argmax() {
        let logits = logits_with_ties(128256, 1);
        for k in [1, 2, 40, 64] {
            check(&logits, k, 65535);
        }
    }

    #[test]
    fn smollm_vocabulary_and_a_two_dimensional_grid() {
        let logits = random(49152, 2, 8.0);
        check(&logits, 50, 65535);
        check(&logits, 1, 7);
        check(&logits, 64, 7);
    }

    #[test]
    fn the_largest_k_of_each_layout() {
        let logits = logits_with_ties(49152, 8);
        for layout in MatmulLayout::ALL {
            let k = TopK::new(&gpu().device, layout).max_k();
            let want = match layout {
                MatmulLayout::Cooperative => SLOTS / 2,
                MatmulLayout::RowPerInvocation => SCAN_MAX_K,
            };
            assert_eq!(k, want);
            let (ids, values, _) = top_k_cpu(&logits, k as usize);
            let got = run(&logits, k, 65535, layout);
            assert_eq!((got.ids, got.logits), (ids, values), "{layout:?} k {k}");
        }
    }

    #[test]
    fn all_equal_logits_rank_by_id() {
        let logits = vec![0.25f32; 49152];
        for layout in MatmulLayout::ALL {
            let got = run(&logits, 64, 65535, layout);
            assert_eq!(got.ids, (0..64).collect::<Vec<u32>>(), "{layout:?}");
        }
        check(&logits, 64, 65535);
        check(&logits, 1, 65535);
    }

    #[test]
    fn ragged_and_tiny_vocabularies() {
        // The last chunk is partial; a vocabulary smaller than one chunk; k == vocab.
        check(&random(3000, 3, 5.0), 40, 65535);
        check(&random(100, 4, 5.0), 64, 65535);
        check(&random(64, 5, 5.0), 64, 65535);
        check(&random(1, 6, 5.0), 1, 65535);
        // Large logits: logsumexp must not overflow.
        let big: Vec<f32> = random(5000, 7, 5.0).iter().map(|x| x + 300.0).collect();
        check(&big, 40, 65535);
    }

    #[test]
    fn a_later_row_of_a_batch() {
        let gpu = gpu();
        let vocab = 3000u32;
        let rows = random(3 * vocab as usize, 8, 6.0);
        let buffer = storage(gpu, &rows);
        let kernel = TopK::new(&gpu.device, MatmulLayout::RowPerInvocation);
        let binding = kernel.prepare(&gpu.device, &buffer, 0, vocab, 40);
        binding.set_logits_offset(&gpu.queue, 2 * vocab);
        let mut encoder = gpu.device.create_command_encoder(&Default::default());
        in_pass(&mut encoder, "t", |pass| kernel.encode_into(pass, &binding));
        gpu.queue.submit([encoder.finish()]);
        let bytes =
            pollster::block_on(read_buffer(gpu, binding.output(), binding.output_size())).unwrap();
        let got = parse_top_k_output(&bytes, 40).unwrap();
        let (ids, _, _) = top_k_cpu(&rows[2 * vocab as usize..], 40);
        assert_eq!(got.ids, ids);
    }
}
