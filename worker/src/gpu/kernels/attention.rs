//! Causal grouped-query attention over an f32 KV cache on the GPU, and the write of each
//! step's new K/V rows into that cache.
//!
//! KV cache layout ([`KvCache`]): per layer, one buffer for K and one for V, each
//! `[capacity][n_kv_heads][head_dim]` f32 (row `pos` holds every KV head of that position;
//! `capacity` is the context window). A step writes its `n_tokens` rows at `start_pos..` (after
//! RoPE on K), then attends; the rows below `start_pos` stay valid, so a common prefix is
//! kept between turns by starting the next step at its length.
//!
//! Queries and output are `[n_tokens][n_heads][head_dim]`; token `t` is at `start_pos + t`
//! and attends to positions `0..=start_pos + t`. Query head `h` uses KV head
//! `h / (n_heads / n_kv_heads)`. Scale `1/sqrt(head_dim)`, online (running-max) softmax.
//! `head_dim` is at most 256.

use super::grid::dispatch_spread;
use super::matmul::MatmulLayout;
use super::params::{
    bind_buffers, compute_pipeline, in_pass, shape_uniform, with_const, StepParams, StepUniform,
};
use super::unroll::unroll;

const MAX_HEAD_DIM: u32 = 256;
const WRITE_WORKGROUP_SIZE: u32 = 256;

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct Shape {
    n_heads: u32,
    n_kv_heads: u32,
    head_dim: u32,
    capacity: u32,
    scale: f32,
    _pad: [u32; 3],
}

/// The model's attention shape and the cache's capacity (positions).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AttentionShape {
    pub n_heads: u32,
    pub n_kv_heads: u32,
    pub head_dim: u32,
    pub capacity: u32,
}

impl AttentionShape {
    /// f32s in one cache row (one position, every KV head).
    pub fn kv_row_len(&self) -> u32 {
        self.n_kv_heads * self.head_dim
    }
}

/// The f32 KV cache of every layer, zero-initialised.
pub struct KvCache {
    pub shape: AttentionShape,
    k: Vec<wgpu::Buffer>,
    v: Vec<wgpu::Buffer>,
}

impl KvCache {
    /// Every layer's K and V buffer.
    pub fn buffers(&self) -> impl Iterator<Item = &wgpu::Buffer> {
        self.k.iter().chain(&self.v)
    }

    /// Bytes per layer per K or V: `capacity · n_kv_heads · head_dim · 4` (8 MiB for Llama
    /// 3.2 1B at 4096 positions).
    pub fn new(device: &wgpu::Device, shape: AttentionShape, n_layers: u32) -> Self {
        let size = u64::from(shape.capacity) * u64::from(shape.kv_row_len()) * 4;
        let make = |label: &str| {
            (0..n_layers)
                .map(|_| {
                    device.create_buffer(&wgpu::BufferDescriptor {
                        label: Some(label),
                        size,
                        usage: wgpu::BufferUsages::STORAGE
                            | wgpu::BufferUsages::COPY_DST
                            | wgpu::BufferUsages::COPY_SRC,
                        mapped_at_creation: false,
                    })
                })
                .collect()
        };
        Self {
            shape,
            k: make("kv cache k"),
            v: make("kv cache v"),
        }
    }

    pub fn k(&self, layer: usize) -> &wgpu::Buffer {
        &self.k[layer]
    }

    pub fn v(&self, layer: usize) -> &wgpu::Buffer {
        &self.v[layer]
    }

    pub fn n_layers(&self) -> usize {
        self.k.len()
    }
}

/// Buffers of one layer's attention step.
pub struct AttentionBuffers<'a> {
    /// Roped queries, `[n][n_heads][head_dim]`.
    pub q: &'a wgpu::Buffer,
    /// This step's roped K rows and V rows, `[n][n_kv_heads][head_dim]` each.
    pub k_new: &'a wgpu::Buffer,
    pub v_new: &'a wgpu::Buffer,
    pub k_cache: &'a wgpu::Buffer,
    pub v_cache: &'a wgpu::Buffer,
    /// `[n][n_heads][head_dim]`; not `q`.
    pub out: &'a wgpu::Buffer,
}

pub struct Attention {
    /// attention.wgsl, whose `attend` is the cooperative kernel (for head sizes that are not a
    /// multiple of 4) and the KV write; `attend` is built on first use.
    module: wgpu::ShaderModule,
    attend: std::sync::OnceLock<wgpu::ComputePipeline>,
    /// The one-shot path's KV write (the engine's RoPE writes the cache), built on first use.
    kv_write: std::sync::OnceLock<wgpu::ComputePipeline>,
    layout: MatmulLayout,
    /// attention_lanes.wgsl's `attend` and `merge` (GPUs) or attention_heads.wgsl's `attend`
    /// (software adapters) built for a head size and heads per workgroup, on first use.
    lanes: std::sync::Mutex<Option<((u32, u32), AttendPipelines)>>,
    /// The split states of the last `prepare`, shared by every layer's binding (the layers run
    /// one after another); replaced by a larger one when a shape needs more.
    partials: std::sync::Mutex<Option<wgpu::Buffer>>,
    split_rule: SplitRule,
    max_per_dim: u32,
}

/// The attend pipeline of a head size, and the merge of its splits where it has them.
#[derive(Clone)]
struct AttendPipelines {
    attend: wgpu::ComputePipeline,
    /// Set for attention_lanes.wgsl (which binds `partials`), even with one split.
    partials: bool,
    merge: Option<wgpu::ComputePipeline>,
    /// Query heads a workgroup serves (all of one KV head's, or a divisor of them).
    heads: u32,
}

/// Batches of at most this many tokens may have their positions split: a decode step's 32
/// (token, head) pairs cannot fill a GPU.
const SPLIT_TOKENS: u32 = 8;

/// How many ways the lanes kernel splits a few-token batch's positions: one split per
/// `per_split` positions up to the batch's last, at most `max_splits`. The count sizes the
/// dispatch, and the kernels read it in the step's uniform ([`Attention::step`]). A step of
/// one split is one dispatch; more take a second one, the merge, whose fixed cost is worth
/// paying only where the positions are many. (Merging in the attn output GEMV as it stages
/// its input, every workgroup reading every split's state, saved that dispatch but made the
/// GEMV 12 µs a layer slower on an H200 against the merge's 8.)
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SplitRule {
    pub per_split: u32,
    pub max_splits: u32,
}

impl SplitRule {
    /// No splits: software adapters, whose few cores the (token, head) pairs fill.
    pub const NONE: SplitRule = SplitRule {
        per_split: u32::MAX,
        max_splits: 1,
    };

    /// Always `splits` ways (where a batch may split and has that many positions): for
    /// comparing split counts.
    pub const fn fixed(splits: u32) -> Self {
        SplitRule {
            per_split: 1,
            max_splits: splits,
        }
    }

    /// The rule for `layout`: on GPUs a split per 64 positions, at most 16 (Llama 3.2 1B
    /// decodes with 512 workgroups at 4096 positions); none on software adapters.
    pub fn for_layout(layout: MatmulLayout) -> Self {
        match layout {
            MatmulLayout::Cooperative => SplitRule {
                per_split: 64,
                max_splits: 16,
            },
            MatmulLayout::RowPerInvocation => Self::NONE,
        }
    }

    /// The splits of a step of `n_tokens` tokens from `start_pos`.
    pub fn splits(&self, n_tokens: u32, start_pos: u32) -> u32 {
        if n_tokens > SPLIT_TOKENS {
            return 1;
        }
        (start_pos + n_tokens)
            .div_ceil(self.per_split)
            .clamp(1, self.max_splits)
    }
}

/// Lanes of an attention_lanes.wgsl workgroup: 4 (one SIMD register) on software adapters; on
/// GPUs up to 32, as many as keep the workgroup's merge arrays within WebGPU's guaranteed
/// 16 KiB of workgroup memory.
fn lanes_per_workgroup(layout: MatmulLayout, head_dim: u32) -> u32 {
    match layout {
        MatmulLayout::RowPerInvocation => 4,
        MatmulLayout::Cooperative => {
            let vec_bytes = head_dim * 4;
            // q_s, then per lane its m, l and accumulators.
            let fit = (16384 - vec_bytes) / (8 + vec_bytes);
            1 << fit.clamp(1, 32).ilog2()
        }
    }
}

/// attention_lanes.wgsl for heads of `head_dim` (a multiple of 4) in workgroups of `lanes`
/// (its `// each d` lines written out: see [`unroll`]).
fn lanes_source(head_dim: u32, lanes: u32) -> String {
    const SOURCE: &str = concat!(
        include_str!("attention_io.wgsl"),
        include_str!("attention_vec4.wgsl"),
        include_str!("attention_lanes.wgsl")
    );
    let vecs = head_dim / 4;
    [
        (
            "const VECS: u32 = 16u;",
            format!("const VECS: u32 = {vecs}u;"),
        ),
        ("const WG: u32 = 4u;", format!("const WG: u32 = {lanes}u;")),
    ]
    .iter()
    .fold(unroll(SOURCE, vecs, 1), |s, (from, to)| {
        with_const(&s, "attention_lanes.wgsl", from, to)
    })
}

/// Most vec4s of query (and as many of accumulators) a lane of attention_heads.wgsl keeps in
/// registers: HEADS · head_dim / 16. Each is a few lines of the unrolled source, and the
/// pipeline's build time grows faster than they do (on SwiftShader a kernel keeping 96 vec4s
/// a lane took 2.3–2.9 s to build).
const MAX_LANE_VECS: u32 = 16;

/// Query heads an attention_heads.wgsl workgroup serves for `shape`: the largest divisor of
/// the heads per KV head whose vec4s fit [`MAX_LANE_VECS`] (1 where even one head's do not).
fn heads_per_workgroup(shape: &AttentionShape) -> u32 {
    // `prepare` refuses shapes without KV heads; a kernel built ahead may see one.
    let group = (shape.n_heads / shape.n_kv_heads.max(1)).max(1);
    let lane_vecs = shape.head_dim / 16;
    (1..=group)
        .rev()
        .find(|&h| group.is_multiple_of(h) && h * lane_vecs <= MAX_LANE_VECS)
        .unwrap_or(1)
}

/// attention_heads.wgsl for heads of `head_dim` (a multiple of 16), `heads` of them a
/// workgroup, its marked lines written out.
fn heads_source(head_dim: u32, heads: u32) -> String {
    const SOURCE: &str = concat!(
        include_str!("attention_io.wgsl"),
        include_str!("attention_vec4.wgsl"),
        include_str!("attention_heads.wgsl")
    );
    with_const(
        &unroll(SOURCE, head_dim / 16, heads),
        "attention_heads.wgsl",
        "const HEADS: u32 = 1u;",
        &format!("const HEADS: u32 = {heads}u;"),
    )
}

/// attention.wgsl with its workgroup size and lanes' accumulator count for `layout`. The
/// accumulators are a function-scope array, which an `override` constant cannot size.
fn attention_source(layout: MatmulLayout) -> String {
    const SOURCE: &str = concat!(
        include_str!("attention_io.wgsl"),
        include_str!("attention.wgsl")
    );
    const GPU: [&str; 2] = ["const WG: u32 = 64u;", "const ACC: u32 = 4u;"];
    match layout {
        MatmulLayout::Cooperative => SOURCE.to_string(),
        MatmulLayout::RowPerInvocation => {
            let software = ["const WG: u32 = 16u;", "const ACC: u32 = 16u;"];
            GPU.iter()
                .zip(software)
                .fold(SOURCE.to_string(), |s, (from, to)| {
                    with_const(&s, "attention.wgsl", from, to)
                })
        }
    }
}

impl AttentionShape {
    /// The shader's `Shape`.
    fn uniform(&self) -> Shape {
        Shape {
            n_heads: self.n_heads,
            n_kv_heads: self.n_kv_heads,
            head_dim: self.head_dim,
            capacity: self.capacity,
            scale: 1.0 / (self.head_dim as f32).sqrt(),
            _pad: [0; 3],
        }
    }
}

/// One layer's bind groups, reused every step.
pub struct AttentionBinding {
    attend_pipeline: wgpu::ComputePipeline,
    attend: wgpu::BindGroup,
    /// The merge of a few-token batch's splits, when the kernel splits.
    merge: Option<(wgpu::ComputePipeline, wgpu::BindGroup)>,
    shape: AttentionShape,
    /// Query heads an `attend` workgroup serves.
    heads: u32,
}

impl Attention {
    /// `layout` picks the kernel; both run attention.wgsl's cooperative `attend` where the
    /// head size is not a multiple of 4.
    /// - Software adapters: attention_heads.wgsl (where the head size is a multiple of 16), 4
    ///   lanes over a head's dimensions serving several query heads of one KV head, no splits;
    ///   elsewhere attention_lanes.wgsl with 4 lanes, which had taken SmolLM2's 30
    ///   attentions on SwiftShader from 19.5 to 8.2 ms of a decode step at about 56 positions
    ///   against the cooperative kernel (workgroup 16: 8 would have been faster, but lavapipe,
    ///   Mesa 22.3, is wrong with it past 4000 positions, SwiftShader right; see also
    ///   [`MatmulLayout::reduction_workgroup`]); see attention_heads.wgsl for what it gains.
    /// - GPUs: attention_lanes.wgsl (lanes taking whole positions, merged once), 32 lanes
    ///   (fewer for heads over 64), a few-token batch's positions split by
    ///   [`SplitRule::for_layout`] and merged by a second dispatch. On an H200 (native Vulkan),
    ///   Llama 3.2 1B's 16 attentions of a decode step at about 640 positions took 9.0 ms with
    ///   the cooperative kernel (workgroup 64: 32 workgroups, each walking the positions in
    ///   chunks with barriers), 3.5 ms with 32 lanes unsplit and 1.7 ms split 16 ways (each a
    ///   layer's attention submitted alone, about 50 µs of which is the submit's round trip).
    ///
    /// With `heads` (a model's heads; its capacity does not matter), the `attend` pipeline
    /// for them is built now (the loader builds its kernels while the weights stream in);
    /// others are built on first use.
    pub fn new(device: &wgpu::Device, layout: MatmulLayout, heads: Option<AttentionShape>) -> Self {
        Self::with_split_rule(device, layout, heads, SplitRule::for_layout(layout))
    }

    /// [`Self::new`] with the lanes kernel splitting positions by `split_rule` (the bench
    /// compares rules).
    pub fn with_split_rule(
        device: &wgpu::Device,
        layout: MatmulLayout,
        heads: Option<AttentionShape>,
        split_rule: SplitRule,
    ) -> Self {
        let source = attention_source(layout);
        let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some("attention"),
            source: wgpu::ShaderSource::Wgsl(source.into()),
        });
        let attention = Self {
            kv_write: std::sync::OnceLock::new(),
            module,
            attend: std::sync::OnceLock::new(),
            layout,
            lanes: std::sync::Mutex::new(None),
            partials: std::sync::Mutex::new(None),
            split_rule,
            max_per_dim: device.limits().max_compute_workgroups_per_dimension,
        };
        if let Some(heads) = heads {
            attention.attend_pipeline(device, &heads);
        }
        attention
    }

    /// The `attend` pipeline for `shape`'s heads: attention_lanes.wgsl, or on software adapters
    /// attention_heads.wgsl where the head size is a multiple of 16 (one for a head size and
    /// heads per workgroup, built on first use); the cooperative one where the head size is
    /// not a multiple of 4.
    fn attend_pipeline(&self, device: &wgpu::Device, shape: &AttentionShape) -> AttendPipelines {
        let head_dim = shape.head_dim;
        if !head_dim.is_multiple_of(4) {
            let build = || compute_pipeline(device, &self.module, "attention", "attend");
            return AttendPipelines {
                attend: self.attend.get_or_init(build).clone(),
                partials: false,
                merge: None,
                heads: 1,
            };
        }
        // Software adapters run attention_heads.wgsl where a head's vec4s spread evenly
        // over its 4 lanes.
        let by_heads = self.layout == MatmulLayout::RowPerInvocation && head_dim.is_multiple_of(16);
        let heads = if by_heads {
            heads_per_workgroup(shape)
        } else {
            1
        };
        let mut lanes = self.lanes.lock().unwrap_or_else(|e| e.into_inner());
        match &*lanes {
            Some((key, pipelines)) if *key == (head_dim, heads) => pipelines.clone(),
            _ => {
                let module = |label: &str, source: String| {
                    device.create_shader_module(wgpu::ShaderModuleDescriptor {
                        label: Some(label),
                        source: wgpu::ShaderSource::Wgsl(source.into()),
                    })
                };
                let pipelines = match by_heads {
                    false => {
                        let per_workgroup = lanes_per_workgroup(self.layout, head_dim);
                        let module =
                            module("attention lanes", lanes_source(head_dim, per_workgroup));
                        AttendPipelines {
                            attend: compute_pipeline(device, &module, "attention lanes", "attend"),
                            partials: true,
                            merge: (self.split_rule.max_splits > 1).then(|| {
                                compute_pipeline(device, &module, "attention merge", "merge")
                            }),
                            heads,
                        }
                    }
                    true => {
                        let module = module("attention heads", heads_source(head_dim, heads));
                        AttendPipelines {
                            attend: compute_pipeline(device, &module, "attention heads", "attend"),
                            partials: false,
                            merge: None,
                            heads,
                        }
                    }
                };
                *lanes = Some(((head_dim, heads), pipelines.clone()));
                pipelines
            }
        }
    }

    /// The split states' buffer, at least `bytes` long.
    fn partials(&self, device: &wgpu::Device, bytes: u64) -> wgpu::Buffer {
        let mut partials = self.partials.lock().unwrap_or_else(|e| e.into_inner());
        match &*partials {
            Some(buffer) if buffer.size() >= bytes => buffer.clone(),
            _ => {
                let buffer = device.create_buffer(&wgpu::BufferDescriptor {
                    label: Some("attention partials"),
                    size: bytes,
                    usage: wgpu::BufferUsages::STORAGE,
                    mapped_at_creation: false,
                });
                *partials = Some(buffer.clone());
                buffer
            }
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
        shape: AttentionShape,
        buffers: &AttentionBuffers<'_>,
    ) -> AttentionBinding {
        assert!(
            shape.head_dim <= MAX_HEAD_DIM
                && shape.n_kv_heads > 0
                && shape.n_heads.is_multiple_of(shape.n_kv_heads),
            "attention: {shape:?} (head_dim at most {MAX_HEAD_DIM}, n_heads a multiple of n_kv_heads)"
        );
        let uniform = shape_uniform(device, "attention shape", &shape.uniform());
        let b = buffers;
        let pipelines = self.attend_pipeline(device, &shape);
        let mut bound = vec![b.q, b.k_cache, b.v_cache, b.out, &uniform, step.buffer()];
        // Sized for the split states of a SPLIT_TOKENS batch (the lanes kernel binds it even
        // unsplit).
        let partials = pipelines.partials.then(|| {
            let floats =
                SPLIT_TOKENS * shape.n_heads * self.split_rule.max_splits * (shape.head_dim + 2);
            self.partials(device, u64::from(floats) * 4)
        });
        bound.extend(partials.as_ref());
        let attend = bind_buffers(device, &pipelines.attend, "attention", &bound);
        let merge = pipelines
            .merge
            .as_ref()
            .zip(partials.as_ref())
            .map(|(merge, partials)| {
                let entries = [(3, b.out), (4, &uniform), (5, step.buffer()), (6, partials)].map(
                    |(binding, buffer)| wgpu::BindGroupEntry {
                        binding,
                        resource: buffer.as_entire_binding(),
                    },
                );
                let group = device.create_bind_group(&wgpu::BindGroupDescriptor {
                    label: Some("attention merge"),
                    layout: &merge.get_bind_group_layout(0),
                    entries: &entries,
                });
                (merge.clone(), group)
            });
        AttentionBinding {
            attend_pipeline: pipelines.attend,
            attend,
            merge,
            shape,
            heads: pipelines.heads,
        }
    }

    /// The uniform of a step of `n_tokens` tokens from `start_pos`, with the splits of its
    /// positions under this attention's rule.
    pub fn step(&self, n_tokens: u32, start_pos: u32) -> StepParams {
        let splits = self.split_rule.splits(n_tokens, start_pos);
        StepParams::new(n_tokens, start_pos).with_splits(splits)
    }

    /// Records attention of `n_tokens` queries from `start_pos` over the cache (rows up to
    /// their positions must already be written). The step uniform the commands run with must
    /// be [`Self::step`] of the same `n_tokens` and `start_pos`: the number of workgroups
    /// follows from them.
    pub fn encode_attend_into(
        &self,
        pass: &mut wgpu::ComputePass<'_>,
        binding: &AttentionBinding,
        n_tokens: u32,
        start_pos: u32,
    ) {
        let queries = n_tokens * binding.shape.n_heads;
        let splits = match binding.merge {
            Some(_) => self.split_rule.splits(n_tokens, start_pos),
            None => 1,
        };
        let merge = binding.merge.as_ref().filter(|_| splits > 1);
        dispatch_spread(
            pass,
            &binding.attend_pipeline,
            &binding.attend,
            queries / binding.heads * splits,
            self.max_per_dim,
        );
        if let Some((pipeline, group)) = merge {
            dispatch_spread(pass, pipeline, group, queries, self.max_per_dim);
        }
    }

    /// One-shot: KV write and attention for a batch at `start_pos`, in a pass of its own.
    pub fn encode(
        &self,
        device: &wgpu::Device,
        encoder: &mut wgpu::CommandEncoder,
        shape: AttentionShape,
        buffers: &AttentionBuffers<'_>,
        n_tokens: u32,
        start_pos: u32,
    ) {
        assert!(
            start_pos + n_tokens <= shape.capacity,
            "attention: positions {start_pos}..{} past the cache's {}",
            start_pos + n_tokens,
            shape.capacity
        );
        let step = StepUniform::with(device, self.step(n_tokens, start_pos));
        let binding = self.prepare(device, &step, shape, buffers);
        let kv_write = self
            .kv_write
            .get_or_init(|| compute_pipeline(device, &self.module, "kv_write", "kv_write"));
        let uniform = shape_uniform(device, "attention shape", &shape.uniform());
        let b = buffers;
        let entries = [
            (1, b.k_cache),
            (2, b.v_cache),
            (4, &uniform),
            (5, step.buffer()),
            (6, b.k_new),
            (7, b.v_new),
        ]
        .map(|(binding, buffer)| wgpu::BindGroupEntry {
            binding,
            resource: buffer.as_entire_binding(),
        });
        let kv_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("kv_write"),
            layout: &kv_write.get_bind_group_layout(0),
            entries: &entries,
        });
        in_pass(encoder, "attention", |pass| {
            dispatch_spread(
                pass,
                kv_write,
                &kv_group,
                (n_tokens * shape.kv_row_len()).div_ceil(WRITE_WORKGROUP_SIZE),
                self.max_per_dim,
            );
            self.encode_attend_into(pass, &binding, n_tokens, start_pos)
        });
    }
}

/// The CPU twin in f64. `k_cache`/`v_cache`: `[positions][n_kv_heads][head_dim]` holding at
/// least `start_pos + n` rows (this step's already in place); `q`: `[n][n_heads][head_dim]`.
pub fn attention_cpu(
    q: &[f32],
    k_cache: &[f32],
    v_cache: &[f32],
    shape: AttentionShape,
    start_pos: usize,
) -> Vec<f64> {
    let (nh, nkv, hd) = (
        shape.n_heads as usize,
        shape.n_kv_heads as usize,
        shape.head_dim as usize,
    );
    let group = nh / nkv;
    let scale = 1.0 / (hd as f64).sqrt();
    let mut out = vec![0.0; q.len()];
    for t in 0..q.len() / (nh * hd) {
        let n_pos = start_pos + t + 1;
        for h in 0..nh {
            let qh = &q[(t * nh + h) * hd..][..hd];
            let kv = (h / group) * hd;
            let scores: Vec<f64> = (0..n_pos)
                .map(|p| {
                    let kr = &k_cache[p * nkv * hd + kv..][..hd];
                    qh.iter()
                        .zip(kr)
                        .map(|(&a, &b)| f64::from(a) * f64::from(b))
                        .sum::<f64>()
                        * scale
                })
                .collect();
            let max = scores.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let weights: Vec<f64> = scores.iter().map(|s| (s - max).exp()).collect();
            let total: f64 = weights.iter().sum();
            let o = &mut out[(t * nh + h) * hd..][..hd];
            for (p, w) in weights.iter().enumerate() {
                let vr = &v_cache[p * nkv * hd + kv..][..hd];
                for (od, &vd) in o.iter_mut().zip(vr) {
                    *od += w / total * f64::from(vd);
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::params::test_util::{max_rel_err, random, read_f32, storage};
    use super::*;
    use crate::gpu::test_support::gpu;

    /// Fills cache rows `0..start_pos` with history, then runs the KV write of `n_tokens`
    /// new rows and attention. Checks the cache rows written and the output, within
    /// 2e-5 · (1 + |twin|) of the f64 twin.
    fn check(shape: AttentionShape, n_tokens: u32, start_pos: u32, q_range: f32, max_per_dim: u32) {
        let gpu = gpu();
        let row = shape.kv_row_len() as usize;
        let (n, sp) = (n_tokens as usize, start_pos as usize);
        let seed = u64::from(start_pos * 7 + n_tokens);
        let mut k_all = random((sp + n) * row, seed, 1.0);
        let v_all = random((sp + n) * row, seed + 1, 1.0);
        // A key far above the others: the softmax must stay finite and exact.
        if sp > 3 {
            for x in &mut k_all[3 * row..4 * row] {
                *x *= 8.0;
            }
        }
        let q = random(
            n * (shape.n_heads * shape.head_dim) as usize,
            seed + 2,
            q_range,
        );
        let cache = KvCache::new(&gpu.device, shape, 2);
        let layer = 1;
        gpu.queue
            .write_buffer(cache.k(layer), 0, bytemuck::cast_slice(&k_all[..sp * row]));
        gpu.queue
            .write_buffer(cache.v(layer), 0, bytemuck::cast_slice(&v_all[..sp * row]));
        let qb = storage(gpu, &q);
        let k_new = storage(gpu, &k_all[sp * row..]);
        let v_new = storage(gpu, &v_all[sp * row..]);
        let out = storage(gpu, &vec![0.0; q.len()]);
        // Each layout's own rule, and a GPU kernel split finely: 7 splits from 97 positions,
        // uneven ones at most lengths.
        let fine = SplitRule {
            per_split: 16,
            max_splits: 7,
        };
        let kernels = MatmulLayout::ALL
            .map(|layout| (layout, SplitRule::for_layout(layout)))
            .into_iter()
            .chain([(MatmulLayout::Cooperative, fine)]);
        for (layout, rule) in kernels {
            let kernel = Attention::with_split_rule(&gpu.device, layout, None, rule)
                .with_max_workgroups_per_dim(max_per_dim);
            let buffers = AttentionBuffers {
                q: &qb,
                k_new: &k_new,
                v_new: &v_new,
                k_cache: cache.k(layer),
                v_cache: cache.v(layer),
                out: &out,
            };
            let mut encoder = gpu.device.create_command_encoder(&Default::default());
            kernel.encode(
                &gpu.device,
                &mut encoder,
                shape,
                &buffers,
                n_tokens,
                start_pos,
            );
            gpu.queue.submit([encoder.finish()]);

            assert_eq!(read_f32(gpu, cache.k(layer), (sp + n) * row), k_all);
            assert_eq!(read_f32(gpu, cache.v(layer), (sp + n) * row), v_all);
            let got = read_f32(gpu, &out, q.len());
            let want = attention_cpu(&q, &k_all, &v_all, shape, sp);
            let err = max_rel_err(&got, &want);
            assert!(
                err < 2e-5,
                "{layout:?} {rule:?} {shape:?} n {n} start {sp}: error {err:e}"
            );
        }
    }

    const LLAMA_1B: AttentionShape = AttentionShape {
        n_heads: 32,
        n_kv_heads: 8,
        head_dim: 64,
        capacity: 4096,
    };

    #[test]
    fn prefill_from_an_empty_cache() {
        check(LLAMA_1B, 7, 0, 1.0, 65535);
    }

    #[test]
    fn prefill_continuing_a_kept_prefix() {
        // 70 + 5 positions: two chunks of 64, the second partial.
        check(LLAMA_1B, 5, 70, 1.0, 65535);
        // More tokens than a batch whose positions are split on GPUs.
        check(LLAMA_1B, SPLIT_TOKENS + 4, 37, 1.0, 65535);
    }

    #[test]
    fn decode_first_and_long_context_token() {
        check(LLAMA_1B, 1, 0, 1.0, 65535);
        // Several thousand positions, sharp scores.
        check(LLAMA_1B, 1, 3999, 4.0, 65535);
    }

    #[test]
    fn decode_at_each_number_of_splits() {
        // The fine rule's 1..=7 splits and the GPU rule's 1, 2 and 3, each split's positions
        // uneven across its lanes.
        for start in [5, 16, 40, 63, 95, 300, 600] {
            check(LLAMA_1B, 1, start, 2.0, 65535);
        }
    }

    #[test]
    fn kv_heads_of_many_query_heads_span_several_workgroups() {
        // 8 query heads a KV head, of 4 vec4s a lane each: a software workgroup serves 4.
        let eight = AttentionShape {
            n_heads: 16,
            n_kv_heads: 2,
            head_dim: 64,
            capacity: 200,
        };
        assert_eq!(heads_per_workgroup(&eight), 4);
        check(eight, 3, 150, 2.0, 65535);
        // Multi-head attention (one query head a KV head) and heads too wide to share.
        let mha = AttentionShape {
            n_heads: 5,
            n_kv_heads: 5,
            head_dim: 32,
            capacity: 100,
        };
        assert_eq!(heads_per_workgroup(&mha), 1);
        check(mha, 1, 40, 1.0, 65535);
        let wide = AttentionShape {
            n_heads: 6,
            n_kv_heads: 2,
            head_dim: 256,
            capacity: 100,
        };
        assert_eq!(heads_per_workgroup(&wide), 1);
        check(wide, 2, 30, 1.0, 65535);
        assert_eq!(heads_per_workgroup(&LLAMA_1B), 4);
    }

    #[test]
    fn split_rule_counts_positions_up_to_the_batch_end() {
        let rule = SplitRule {
            per_split: 256,
            max_splits: 16,
        };
        assert_eq!(rule.splits(1, 0), 1);
        assert_eq!(rule.splits(1, 255), 1);
        assert_eq!(rule.splits(1, 256), 2);
        assert_eq!(rule.splits(4, 1000), 4);
        assert_eq!(rule.splits(1, 100_000), 16);
        // Batches past SPLIT_TOKENS are never split.
        assert_eq!(rule.splits(SPLIT_TOKENS + 1, 100_000), 1);
        assert_eq!(SplitRule::NONE.splits(1, u32::MAX - 1), 1);
    }

    #[test]
    fn smollm_and_wide_heads_in_a_two_dimensional_grid() {
        let smollm = AttentionShape {
            n_heads: 9,
            n_kv_heads: 3,
            head_dim: 64,
            capacity: 300,
        };
        check(smollm, 6, 129, 2.0, 5);
        let wide = AttentionShape {
            n_heads: 4,
            n_kv_heads: 1,
            head_dim: 200,
            capacity: 100,
        };
        check(wide, 3, 61, 1.0, 65535);
        // Not a multiple of 4: both layouts fall back to the cooperative kernel.
        let odd = AttentionShape {
            n_heads: 2,
            n_kv_heads: 2,
            head_dim: 6,
            capacity: 40,
        };
        check(odd, 2, 17, 1.0, 65535);
    }
}
