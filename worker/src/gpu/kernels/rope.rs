//! Rotary position embedding, GGUF llama layout (adjacent pairs), in place in Q and K; the same
//! dispatch writes the step's rotated K and its V into the layer's KV cache (one dispatch fewer
//! per layer than a separate write).
//!
//! Q is `[n_tokens][n_heads][head_dim]`, K `[n_tokens][n_kv_heads][head_dim]` (f32); token `t`
//! is at position `start_pos + t` (step uniform). The first `rope_dims` of each head rotate:
//! pair `(2i, 2i+1)` by `theta_i = pos · base^(−2i/rope_dims) / f_i`, with `f_i` from the
//! model's `rope_freqs.weight` (F32, `rope_dims / 2` values) when given, else 1.
//!
//! Angles are f32 (as llama.cpp): the error against exact angles grows with the position,
//! about `pos · 2^-23` radians from rounding `theta` (see the tests' tolerance).

use super::grid::dispatch_spread;
use super::params::{
    bind_buffers, compute_pipeline, in_pass, shape_uniform, StepParams, StepUniform,
};

const WORKGROUP_SIZE: u32 = 256;

#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
struct Shape {
    n_heads: u32,
    n_kv_heads: u32,
    head_dim: u32,
    rope_dims: u32,
    base: f32,
    has_freqs: u32,
    capacity: u32,
    _pad: u32,
}

/// The model's RoPE shape.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RopeShape {
    pub n_heads: u32,
    pub n_kv_heads: u32,
    pub head_dim: u32,
    /// Leading dimensions of each head that rotate (`llama.rope.dimension_count`; usually
    /// `head_dim`). Even, at most `head_dim`.
    pub rope_dims: u32,
    /// `llama.rope.freq_base` (500000 for Llama 3, 10000 by default).
    pub base: f32,
}

pub struct Rope {
    pipeline: wgpu::ComputePipeline,
    max_per_dim: u32,
}

/// What RoPE reads and writes: Q and K (rotated in place; different buffers), the `rope_freqs`
/// factors if any, V (`[n_tokens][n_kv_heads][head_dim]`) and the layer's caches
/// (`[capacity][n_kv_heads][head_dim]`), which receive the step's rotated K and its V.
pub struct RopeBuffers<'a> {
    pub q: &'a wgpu::Buffer,
    pub k: &'a wgpu::Buffer,
    pub freqs: Option<&'a wgpu::Buffer>,
    pub v: &'a wgpu::Buffer,
    pub k_cache: &'a wgpu::Buffer,
    pub v_cache: &'a wgpu::Buffer,
    /// Cache rows: positions at or past it are not written.
    pub capacity: u32,
}

/// One layer's bind group (its Q/K and KV cache), reused every step.
pub struct RopeBinding {
    bind_group: wgpu::BindGroup,
    pairs_per_token: u32,
}

impl Rope {
    pub fn new(device: &wgpu::Device) -> Self {
        let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some("rope"),
            source: wgpu::ShaderSource::Wgsl(
                concat!(include_str!("rope_angle.wgsl"), include_str!("rope.wgsl")).into(),
            ),
        });
        Self {
            pipeline: compute_pipeline(device, &module, "rope", "main"),
            max_per_dim: device.limits().max_compute_workgroups_per_dimension,
        }
    }

    /// Caps the workgroups per dispatch dimension (tests force the 2-D grid with a small cap).
    pub fn with_max_workgroups_per_dim(mut self, max_per_dim: u32) -> Self {
        self.max_per_dim = max_per_dim;
        self
    }

    pub fn prepare(
        &self,
        device: &wgpu::Device,
        step: &StepUniform,
        shape: RopeShape,
        b: &RopeBuffers<'_>,
    ) -> RopeBinding {
        assert!(
            shape.rope_dims.is_multiple_of(2)
                && shape.rope_dims <= shape.head_dim
                && shape.rope_dims > 0,
            "rope: rope_dims {} with head_dim {}",
            shape.rope_dims,
            shape.head_dim
        );
        let uniform = shape_uniform(
            device,
            "rope shape",
            &Shape {
                n_heads: shape.n_heads,
                n_kv_heads: shape.n_kv_heads,
                head_dim: shape.head_dim,
                rope_dims: shape.rope_dims,
                base: shape.base,
                has_freqs: b.freqs.is_some() as u32,
                capacity: b.capacity,
                _pad: 0,
            },
        );
        // WGSL has no optional bindings: without factors, bind a placeholder the shader skips.
        let placeholder;
        let freqs = match b.freqs {
            Some(f) => f,
            None => {
                placeholder = device.create_buffer(&wgpu::BufferDescriptor {
                    label: Some("rope no freqs"),
                    size: 16,
                    usage: wgpu::BufferUsages::STORAGE,
                    mapped_at_creation: false,
                });
                &placeholder
            }
        };
        RopeBinding {
            bind_group: bind_buffers(
                device,
                &self.pipeline,
                "rope",
                &[
                    b.q,
                    b.k,
                    freqs,
                    &uniform,
                    step.buffer(),
                    b.v,
                    b.k_cache,
                    b.v_cache,
                ],
            ),
            pairs_per_token: (shape.n_heads + shape.n_kv_heads) * shape.head_dim / 2,
        }
    }

    /// Records RoPE and the cache write for `n_tokens` tokens (the step uniform must say the
    /// same).
    pub fn encode_into(
        &self,
        pass: &mut wgpu::ComputePass<'_>,
        binding: &RopeBinding,
        n_tokens: u32,
    ) {
        dispatch_spread(
            pass,
            &self.pipeline,
            &binding.bind_group,
            (n_tokens * binding.pairs_per_token).div_ceil(WORKGROUP_SIZE),
            self.max_per_dim,
        );
    }

    /// One-shot: a step uniform and bind group of its own, in a pass of its own.
    pub fn encode(
        &self,
        device: &wgpu::Device,
        encoder: &mut wgpu::CommandEncoder,
        shape: RopeShape,
        buffers: &RopeBuffers<'_>,
        n_tokens: u32,
        start_pos: u32,
    ) {
        let step = StepUniform::with(device, StepParams::new(n_tokens, start_pos));
        let binding = self.prepare(device, &step, shape, buffers);
        in_pass(encoder, "rope", |pass| {
            self.encode_into(pass, &binding, n_tokens)
        });
    }
}

/// The CPU twin in f64 with exact angles: rotates `x` (`[n][n_heads][head_dim]`, heads of
/// either Q or K) for tokens at `start_pos..`.
pub fn rope_cpu(
    x: &[f32],
    n_heads: usize,
    head_dim: usize,
    rope_dims: usize,
    base: f64,
    freqs: Option<&[f32]>,
    start_pos: usize,
) -> Vec<f64> {
    let mut out: Vec<f64> = x.iter().map(|&v| f64::from(v)).collect();
    for (r, row) in out.chunks_mut(n_heads * head_dim).enumerate() {
        let pos = (start_pos + r) as f64;
        for head in row.chunks_mut(head_dim) {
            for i in 0..rope_dims / 2 {
                let f = freqs.map_or(1.0, |f| f64::from(f[i]));
                let theta = pos * base.powf(-2.0 * i as f64 / rope_dims as f64) / f;
                let (s, c) = theta.sin_cos();
                let (x0, x1) = (head[2 * i], head[2 * i + 1]);
                head[2 * i] = x0 * c - x1 * s;
                head[2 * i + 1] = x0 * s + x1 * c;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::params::test_util::{random, read_f32, storage};
    use super::*;
    use crate::gpu::test_support::gpu;

    // The values as llama.cpp's converter prints them.
    #[allow(clippy::excessive_precision)]
    /// Llama 3.2's `rope_freqs` for base 500000, head_dim 64 (llama.cpp's converter).
    fn llama3_freqs() -> Vec<f32> {
        let mut f = vec![1.0f32; 15];
        f.extend([1.6513293, 3.2922628, 9.6667309]);
        f.extend([32.0f32; 14]);
        assert_eq!(f.len(), 32);
        f
    }

    /// Tolerance: per element, |gpu − exact| ≤ |x|max · (2e-5 + 2.5e-7 · pos): f32 angles
    /// (pow and the rounding of theta ~ pos·2^-24 rad) and f32 sin/cos.
    fn check(
        shape: RopeShape,
        freqs: Option<Vec<f32>>,
        n_tokens: u32,
        start_pos: u32,
        max_per_dim: u32,
    ) {
        let gpu = gpu();
        let (nh, nkv, hd) = (
            shape.n_heads as usize,
            shape.n_kv_heads as usize,
            shape.head_dim as usize,
        );
        let q = random(n_tokens as usize * nh * hd, 30 + start_pos as u64, 2.0);
        let k = random(n_tokens as usize * nkv * hd, 40 + start_pos as u64, 2.0);
        let v = random(n_tokens as usize * nkv * hd, 50 + start_pos as u64, 2.0);
        let (qb, kb, vb) = (storage(gpu, &q), storage(gpu, &k), storage(gpu, &v));
        // A cache with a row before and after the batch's, which must stay as they were; the
        // last token's row is past the capacity when `start_pos` is large (not written).
        let row = nkv * hd;
        let first = start_pos.saturating_sub(1) as usize;
        let capacity = (start_pos + n_tokens).min(start_pos + 2) as usize + 1;
        let fill = random((capacity - first) * row, 60, 1.0);
        let mut cache_init = vec![0.0f32; first * row];
        cache_init.extend_from_slice(&fill);
        let (kc, vc) = (storage(gpu, &cache_init), storage(gpu, &cache_init));
        let fb = freqs.as_ref().map(|f| storage(gpu, f));
        let kernel = Rope::new(&gpu.device).with_max_workgroups_per_dim(max_per_dim);
        let mut encoder = gpu.device.create_command_encoder(&Default::default());
        kernel.encode(
            &gpu.device,
            &mut encoder,
            shape,
            &RopeBuffers {
                q: &qb,
                k: &kb,
                freqs: fb.as_ref(),
                v: &vb,
                k_cache: &kc,
                v_cache: &vc,
                capacity: capacity as u32,
            },
            n_tokens,
            start_pos,
        );
        gpu.queue.submit([encoder.finish()]);
        let rotated_k = read_f32(gpu, &kb, k.len());
        for (name, buffer, written) in [("k_cache", &kc, &rotated_k), ("v_cache", &vc, &v)] {
            let got = read_f32(gpu, buffer, cache_init.len());
            for (r, (g, init)) in got.chunks(row).zip(cache_init.chunks(row)).enumerate() {
                let t = r as i64 - i64::from(start_pos);
                let want = if t >= 0 && (t as u32) < n_tokens {
                    &written[t as usize * row..][..row]
                } else {
                    init
                };
                assert_eq!(g, want, "{name} row {r}");
            }
        }
        for (name, input, buffer, heads) in [("q", &q, &qb, nh), ("k", &k, &kb, nkv)] {
            let got = read_f32(gpu, buffer, input.len());
            let want = rope_cpu(
                input,
                heads,
                hd,
                shape.rope_dims as usize,
                f64::from(shape.base),
                freqs.as_deref(),
                start_pos as usize,
            );
            let row = heads * hd;
            for (i, (&g, &w)) in got.iter().zip(&want).enumerate() {
                let pos = f64::from(start_pos) + (i / row) as f64;
                let tol = 2.0 * (2e-5 + 2.5e-7 * pos);
                assert!(
                    (f64::from(g) - w).abs() <= tol,
                    "{name}[{i}] (pos {pos}, dim {}): {g} vs {w}",
                    i % hd
                );
                if i % hd >= shape.rope_dims as usize {
                    assert_eq!(g, input[i], "{name}[{i}] past rope_dims moved");
                }
            }
        }
    }

    const LLAMA_1B: RopeShape = RopeShape {
        n_heads: 32,
        n_kv_heads: 8,
        head_dim: 64,
        rope_dims: 64,
        base: 500000.0,
    };

    #[test]
    fn llama3_scaled_prefill_batch() {
        check(LLAMA_1B, Some(llama3_freqs()), 7, 0, 65535);
    }

    #[test]
    fn llama3_scaled_decode_far_into_the_context() {
        check(LLAMA_1B, Some(llama3_freqs()), 1, 4095, 65535);
        check(LLAMA_1B, Some(llama3_freqs()), 3, 30000, 65535);
    }

    #[test]
    fn unscaled_smollm_shape_in_a_two_dimensional_grid() {
        let shape = RopeShape {
            n_heads: 9,
            n_kv_heads: 3,
            head_dim: 64,
            rope_dims: 64,
            base: 100000.0,
        };
        check(shape, None, 5, 1000, 3);
    }

    #[test]
    fn partial_rotation_leaves_the_rest_of_each_head() {
        let shape = RopeShape {
            n_heads: 3,
            n_kv_heads: 1,
            head_dim: 40,
            rope_dims: 24,
            base: 10000.0,
        };
        check(shape, None, 4, 17, 65535);
    }
}
