//! [`GpuModel`]: the weights, the pipelines, the activation buffers sized for one batch, the
//! KV cache, and the bind groups that every step reuses.

use super::weights::ModelWeights;
use super::{EngineError, LoadOptions};
use crate::gguf::GgmlType;
use crate::gpu::kernels::{
    Attention, AttentionBinding, AttentionBuffers, AttentionShape, Embedding, Gemm, Gemv,
    GemvInput, GemvOptions, GemvOutput, KvCache, MatmulLayout, PreparedEmbedding, PreparedGemm,
    PreparedGemv, RmsNorm, RmsNormBinding, Rope, RopeBinding, RopeBuffers, RopeShape, RopeStore,
    StepUniform, SwiGlu, SwiGluBinding, TopK, TopKBinding,
};
use crate::gpu::{GpuContext, GpuWeight, WeightEncoding};
use crate::model::Config;
use std::collections::HashMap;
use std::sync::Arc;

/// The pipelines, built once: by the loader as soon as the header says which weight types
/// the model has (so that a driver compiling them works while the weights still stream in; on
/// SwiftShader in Chromium that is about half a second), or else with the model.
pub(crate) struct Kernels {
    pub gemv: HashMap<GgmlType, Gemv>,
    pub gemm: HashMap<GgmlType, Gemm>,
    pub embedding: Embedding,
    pub rms_norm: RmsNorm,
    pub rope: Rope,
    pub attention: Attention,
    pub swiglu: SwiGlu,
    pub top_k: TopK,
}

impl Kernels {
    /// Whether decode's GEMVs take the RMSNorms and SwiGLU into how they read their input
    /// (GPUs: [`Gemv::fuses_inputs`]), so that those have no dispatches of their own.
    pub fn fused_decode(&self) -> bool {
        self.gemv.values().all(Gemv::fuses_inputs)
    }
}

/// Activations of one step, `[max_batch][width]` f32 each (`logits`: one row).
pub(super) struct Activations {
    pub ids: wgpu::Buffer,
    pub x: wgpu::Buffer,
    pub h: wgpu::Buffer,
    pub q: wgpu::Buffer,
    pub k: wgpu::Buffer,
    pub v: wgpu::Buffer,
    pub att: wgpu::Buffer,
    pub gate: wgpu::Buffer,
    pub up: wgpu::Buffer,
    pub logits: wgpu::Buffer,
}

impl Activations {
    /// What a GEMV reads where it reads the output of the RMSNorm with weights `weight`: fused
    /// (decode on GPUs), the residual stream x through the norm; else the norm's output h.
    pub fn normed<'a>(
        &'a self,
        fused: bool,
        weight: &'a wgpu::Buffer,
        eps: f32,
    ) -> (&'a wgpu::Buffer, GemvInput<'a>) {
        match fused {
            true => (&self.x, GemvInput::RmsNorm { weight, eps }),
            false => (&self.h, GemvInput::X),
        }
    }
}

/// Bind groups that do not depend on the batch size.
pub(super) struct LayerBindings {
    pub attn_norm: RmsNormBinding,
    pub ffn_norm: RmsNormBinding,
    /// RoPE with the write of the step's K and V into this layer's cache.
    pub rope: RopeBinding,
    pub attention: AttentionBinding,
}

/// One decode step's matrix products (batch of one), prepared once.
pub(super) type DecodeLayer = LayerProducts<PreparedGemv>;

/// One layer's matrix products, prepared once: GEMVs for decode, GEMMs for a prefill batch.
pub(super) struct LayerProducts<P> {
    /// One product where q, k and v are stacked, else three.
    pub qkv: Vec<P>,
    pub o: P,
    pub gate_up: Vec<P>,
    pub down: P,
}

/// A prepared matrix product that records into a compute pass.
pub(super) trait Product {
    fn record(&self, pass: &mut wgpu::ComputePass<'_>);
}

impl Product for PreparedGemv {
    fn record(&self, pass: &mut wgpu::ComputePass<'_>) {
        self.encode(pass);
    }
}

impl Product for PreparedGemm {
    fn record(&self, pass: &mut wgpu::ComputePass<'_>) {
        self.encode(pass);
    }
}

impl<P: Product> LayerProducts<P> {
    /// Records group `pick` of the layer's products, in order: 0 q/k/v, 1 o, 2 gate/up,
    /// 3 down.
    pub fn record(&self, pick: usize, pass: &mut wgpu::ComputePass<'_>) {
        match pick {
            0 => self.qkv.iter().for_each(|g| g.record(pass)),
            1 => self.o.record(pass),
            2 => self.gate_up.iter().for_each(|g| g.record(pass)),
            _ => self.down.record(pass),
        }
    }
}

pub(super) struct Decode {
    pub embedding: PreparedEmbedding,
    pub layers: Vec<DecodeLayer>,
    pub output: PreparedGemv,
}

/// A top-K binding over the logits row and its mappable staging buffer.
pub(super) struct Readout {
    pub binding: TopKBinding,
    pub staging: wgpu::Buffer,
}

/// The commands of a one-token step at `pos` reading out the top `k`. The token is written to
/// a buffer at submit; the position is too, but the attention's number of workgroups follows
/// from it, so the commands serve that position only.
pub(super) struct ReadyDecode {
    pub k: u32,
    pub pos: usize,
    pub commands: wgpu::CommandBuffer,
}

/// A Llama model on the GPU with its KV cache.
pub struct GpuModel {
    pub(super) ctx: Arc<GpuContext>,
    pub(super) config: Config,
    pub(super) weights: ModelWeights,
    pub(super) kernels: Kernels,
    pub(super) acts: Activations,
    pub(super) step: StepUniform,
    /// The attention bindings refer to it.
    pub(super) kv: KvCache,
    pub(super) layers: Vec<LayerBindings>,
    pub(super) swiglu: SwiGluBinding,
    pub(super) output_norm: RmsNormBinding,
    pub(super) decode: Decode,
    /// Decode's q/k/v products apply RoPE and write the KV cache (`GemvOutput::Rope`).
    pub(super) rope_in_qkv: bool,
    pub(super) readouts: HashMap<u32, Readout>,
    /// The commands of the next decode step, recorded while the GPU ran the step before;
    /// `forward` submits them when the next step is that step.
    pub(super) ready_decode: Option<ReadyDecode>,
    pub(super) capacity: usize,
    pub(super) max_batch: u32,
    /// Positions in the KV cache.
    pub(super) len: usize,
}

fn storage(device: &wgpu::Device, label: &str, floats: u64) -> wgpu::Buffer {
    device.create_buffer(&wgpu::BufferDescriptor {
        label: Some(label),
        size: (floats * 4).max(16),
        usage: wgpu::BufferUsages::STORAGE
            | wgpu::BufferUsages::COPY_DST
            | wgpu::BufferUsages::COPY_SRC,
        mapped_at_creation: false,
    })
}

/// The attention heads of a model of `config` (for a cache of no positions).
pub(super) fn attention_heads(c: &Config) -> AttentionShape {
    AttentionShape {
        n_heads: c.n_heads as u32,
        n_kv_heads: c.n_kv_heads as u32,
        head_dim: c.head_dim as u32,
        capacity: 0,
    }
}

impl Kernels {
    /// Every pipeline a model with matrices of `matrix_types` (the token embedding's among
    /// them) and attention over `heads` needs on the adapter behind `ctx`, in `layout`.
    pub fn new(
        ctx: &GpuContext,
        layout: MatmulLayout,
        matrix_types: impl IntoIterator<Item = GgmlType>,
        embedding_type: GgmlType,
        heads: AttentionShape,
    ) -> Result<Self, EngineError> {
        let device = &ctx.device;
        let mut gemv = HashMap::new();
        let mut gemm = HashMap::new();
        for ty in matrix_types {
            if let std::collections::hash_map::Entry::Vacant(e) = gemv.entry(ty) {
                e.insert(Gemv::new(ctx, ty, layout)?);
                gemm.insert(ty, Gemm::new(device, ty, layout)?);
            }
        }
        let embedding_encoding = WeightEncoding::for_weights(embedding_type, layout);
        Ok(Self {
            gemv,
            gemm,
            embedding: Embedding::new(device, embedding_type, embedding_encoding)?,
            rms_norm: RmsNorm::new(device, layout),
            rope: Rope::new(device),
            attention: Attention::new(device, layout, Some(heads)),
            swiglu: SwiGlu::new(device),
            top_k: TopK::new(device, layout),
        })
    }
}

impl GpuModel {
    /// `kernels` built early by the loader, or `None` to build them here.
    pub(crate) fn new(
        ctx: Arc<GpuContext>,
        config: Config,
        weights: ModelWeights,
        kernels: Option<Kernels>,
        options: LoadOptions,
    ) -> Result<Self, EngineError> {
        let device = &ctx.device;
        let limits = &ctx.limits;
        let c = &config;
        // The kernels assert these; refuse such a model instead.
        if c.head_dim > 256
            || c.n_kv_heads == 0
            || !c.n_heads.is_multiple_of(c.n_kv_heads)
            || c.rope_dims == 0
            || !c.rope_dims.is_multiple_of(2)
            || c.rope_dims > c.head_dim
        {
            return Err(EngineError::UnsupportedShape(format!(
                "head_dim {} (at most 256), {} heads over {} KV heads, rope over {} dims",
                c.head_dim, c.n_heads, c.n_kv_heads, c.rope_dims
            )));
        }
        let binding_limit = limits
            .max_storage_buffer_binding_size
            .min(limits.max_buffer_size);
        let widest = [c.dim, c.q_dim(), c.kv_dim(), c.ffn_dim]
            .into_iter()
            .max()
            .unwrap_or(1) as u64;
        let max_batch =
            (options.max_batch.max(1) as u64).min((binding_limit / (4 * widest)).max(1)) as u32;
        let capacity = options
            .max_context
            .map_or(c.context_len, |m| m.min(c.context_len))
            .min((binding_limit / (4 * c.kv_dim() as u64)) as usize)
            .max(1);

        let kernels = match kernels {
            Some(k) => k,
            None => Kernels::new(
                &ctx,
                options.layout_for(&ctx),
                weights.matrices().map(|w| w.ty()),
                weights.token_embd.ty(),
                attention_heads(c),
            )?,
        };

        let n = max_batch as u64;
        let acts = Activations {
            ids: storage(device, "token ids", n),
            x: storage(device, "x", n * c.dim as u64),
            h: storage(device, "h", n * c.dim as u64),
            q: storage(device, "q", n * c.q_dim() as u64),
            k: storage(device, "k", n * c.kv_dim() as u64),
            v: storage(device, "v", n * c.kv_dim() as u64),
            att: storage(device, "att", n * c.q_dim() as u64),
            gate: storage(device, "gate", n * c.ffn_dim as u64),
            up: storage(device, "up", n * c.ffn_dim as u64),
            logits: storage(device, "logits", c.vocab_size as u64),
        };
        let step = StepUniform::new(device);
        let shape = AttentionShape {
            capacity: capacity as u32,
            ..attention_heads(c)
        };
        let kv = KvCache::new(device, shape, c.n_layers as u32);
        let rope_shape = RopeShape {
            n_heads: c.n_heads as u32,
            n_kv_heads: c.n_kv_heads as u32,
            head_dim: c.head_dim as u32,
            rope_dims: c.rope_dims as u32,
            base: c.rope_base,
        };
        let norm = |x: &wgpu::Buffer, w: &wgpu::Buffer, y: &wgpu::Buffer| {
            kernels
                .rms_norm
                .prepare(device, &step, x, w, y, c.dim as u32, c.rms_eps)
        };
        let layers = weights
            .layers
            .iter()
            .enumerate()
            .map(|(l, lw)| LayerBindings {
                attn_norm: norm(&acts.x, &lw.attn_norm, &acts.h),
                ffn_norm: norm(&acts.x, &lw.ffn_norm, &acts.h),
                rope: kernels.rope.prepare(
                    device,
                    &step,
                    rope_shape,
                    &RopeBuffers {
                        q: &acts.q,
                        k: &acts.k,
                        freqs: weights.rope_freqs.as_ref(),
                        v: &acts.v,
                        k_cache: kv.k(l),
                        v_cache: kv.v(l),
                        capacity: shape.capacity,
                    },
                ),
                attention: kernels.attention.prepare(
                    device,
                    &step,
                    shape,
                    &AttentionBuffers {
                        q: &acts.q,
                        k_new: &acts.k,
                        v_new: &acts.v,
                        k_cache: kv.k(l),
                        v_cache: kv.v(l),
                        out: &acts.att,
                    },
                ),
            })
            .collect();
        let swiglu = kernels
            .swiglu
            .prepare(device, &step, &acts.gate, &acts.up, c.ffn_dim as u32);
        let output_norm = norm(&acts.x, &weights.output_norm, &acts.h);

        let gemv = |w: &GpuWeight, x: &wgpu::Buffer, y: &wgpu::Buffer, options| {
            kernels.gemv[&w.ty()].prepare(device, limits, w, x, y, options)
        };
        let residual = GemvOptions {
            accumulate: true,
            ..Default::default()
        };
        let a = &acts;
        // A fused decode reads the residual stream through each norm (and the gate through
        // SwiGLU) where the others read the norm's (SwiGLU's) output.
        let fused = kernels.fused_decode();
        let normed = |weight| a.normed(fused, weight, c.rms_eps);
        let swiglu_input = match fused {
            true => GemvInput::SwiGlu { up: &a.up },
            false => GemvInput::X,
        };
        // And a stacked q/k/v product applies RoPE as it stores its rows, writing k and v
        // into the layer's cache, so that RoPE has no dispatch either.
        let rope_in_qkv = fused
            && weights
                .layers
                .iter()
                .all(|lw| lw.qkv.stacked_in_row_pairs());
        let qkv_output = match rope_in_qkv {
            true => GemvOutput::Rope(RopeStore {
                step: step.buffer(),
                freqs: weights.rope_freqs.as_ref(),
                head_dim: c.head_dim as u32,
                rope_dims: c.rope_dims as u32,
                base: c.rope_base,
                capacity: shape.capacity,
            }),
            false => GemvOutput::Rows,
        };
        let decode = Decode {
            embedding: kernels.embedding.prepare(
                device,
                limits,
                &weights.token_embd,
                &a.ids,
                &a.x,
                1,
            ),
            layers: weights
                .layers
                .iter()
                .enumerate()
                .map(|(l, lw)| {
                    let (x, attn_input) = normed(&lw.attn_norm);
                    let (_, ffn_input) = normed(&lw.ffn_norm);
                    let qkv_outputs = match rope_in_qkv {
                        true => [&a.q, kv.k(l), kv.v(l)],
                        false => [&a.q, &a.k, &a.v],
                    };
                    DecodeLayer {
                        qkv: lw.qkv.prepare_gemv(
                            &kernels,
                            device,
                            limits,
                            x,
                            GemvOptions {
                                input: attn_input,
                                output: qkv_output,
                                ..Default::default()
                            },
                            &qkv_outputs,
                        ),
                        o: gemv(&lw.wo, &a.att, &a.x, residual),
                        gate_up: lw.gate_up.prepare_gemv(
                            &kernels,
                            device,
                            limits,
                            x,
                            GemvOptions {
                                input: ffn_input,
                                ..Default::default()
                            },
                            &[&a.gate, &a.up],
                        ),
                        down: gemv(
                            &lw.down,
                            &a.gate,
                            &a.x,
                            GemvOptions {
                                input: swiglu_input,
                                ..residual
                            },
                        ),
                    }
                })
                .collect(),
            output: {
                let (x, input) = normed(&weights.output_norm);
                gemv(
                    weights.output(),
                    x,
                    &a.logits,
                    GemvOptions {
                        input,
                        ..Default::default()
                    },
                )
            },
        };
        Ok(Self {
            ctx,
            config,
            weights,
            kernels,
            acts,
            step,
            kv,
            layers,
            swiglu,
            output_norm,
            decode,
            rope_in_qkv,
            readouts: HashMap::new(),
            ready_decode: None,
            capacity,
            max_batch,
            len: 0,
        })
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn context(&self) -> &Arc<GpuContext> {
        &self.ctx
    }

    /// GPU memory holding the model's weights (not the KV cache or activations).
    pub fn weight_bytes(&self) -> u64 {
        self.weights.gpu_bytes()
    }

    /// Positions the KV cache holds.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Tokens per prefill step.
    pub fn max_batch(&self) -> u32 {
        self.max_batch
    }

    /// Positions currently cached (the next `start_pos`).
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Forgets cached positions from `len` on (keeps a common prefix between turns).
    pub fn truncate(&mut self, len: usize) {
        self.len = self.len.min(len);
    }

    /// Largest `k` that [`Self::forward`] accepts.
    pub fn max_k(&self) -> u32 {
        self.kernels
            .top_k
            .max_k()
            .min(self.config.vocab_size as u32)
    }

    /// The large buffers the model owns: weights, KV cache, activations, readback staging.
    pub fn buffers(&self) -> Vec<&wgpu::Buffer> {
        let a = &self.acts;
        self.weights
            .buffers()
            .chain(self.kv.buffers())
            .chain([
                &a.ids, &a.x, &a.h, &a.q, &a.k, &a.v, &a.att, &a.gate, &a.up, &a.logits,
            ])
            .chain(self.readouts.values().map(|r| &r.staging))
            .collect()
    }
}

impl Drop for GpuModel {
    /// A WebGPU buffer's memory is otherwise freed only when the garbage collector gets to its
    /// JS object (wgpu's web backend does nothing on drop), which may be long after a model
    /// switch has allocated the next model beside it. `destroy` frees it now; work already
    /// submitted still completes first.
    fn drop(&mut self) {
        for buffer in self.buffers() {
            buffer.destroy();
        }
    }
}
