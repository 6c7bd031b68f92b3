//! Matrix products with weights kept in their GGUF encoding: [`Gemv`] for decode (one token),
//! [`Gemm`] for prefill (a batch of tokens). Both dequantize on the fly.
//!
//! WGSL has no `#include`, so each pipeline's source is built here from three pieces:
//! `common.wgsl` (byte-offset reads of the weight words), one `dequant_<type>.wgsl` snippet
//! (the type's block layout as `dequant16`: 16 weights at a time, the chunk size every type
//! shares) and the kernel skeleton: for the products, the bindings every layout shares
//! (`gemv_io.wgsl`, `gemm_io.wgsl`) then the layout's body (`gemv.wgsl`/`gemv_rows.wgsl`,
//! `gemm.wgsl`/`gemm_rows.wgsl`, see [`MatmulLayout`]); `../embedding.wgsl` is one piece. The
//! GPU GEMVs end with one `gemv_input_*.wgsl` snippet: what they multiply by, x or the RMSNorm
//! or SwiGLU of x ([`GemvInput`]), so that decode on a GPU runs no dispatch for those.
//!
//! On software adapters Q8_0 and Q6_K weights (almost every matrix of the models Hearth
//! serves) go instead to kernels written for their block layout ([`TypedKernel`]:
//! `gemv_rows_q8_0_words.wgsl`, `gemm_rows_q8_0_words.wgsl`, `gemv_rows_q6_k_bytes.wgsl`,
//! `gemm_rows_q6_k_bytes.wgsl`), whose headers say what costs on a CPU driver. There Q8_0 and
//! Q6_K weights are stored re-encoded ([`WeightEncoding`]), and every kernel reading them takes
//! that layout.
//!
//! Weights split across buffers or textures ([`GpuWeight`](crate::gpu::GpuWeight) parts) are
//! handled with one dispatch per part, each writing its own range of outputs. The re-encoded
//! weights of software adapters are row quads in textures (`row_quads.wgsl`), which the typed
//! kernels and the embedding lookup read with one texel fetch per word of 4 rows.

#[cfg(not(target_arch = "wasm32"))]
pub mod bench;
mod gemm;
mod gemv;
mod layout;

pub use gemm::{gemm_cpu, Gemm, PreparedGemm};
pub use gemv::{gemv_cpu, Gemv, GemvInput, GemvOptions, GemvOutput, PreparedGemv, RopeStore};
pub use layout::MatmulLayout;

use super::params::{compute_pipeline, row_quad_pipeline, uniform_buffer};
use super::WorkgroupGrid;
use crate::gguf::GgmlType;
use crate::gpu::{GpuWeight, WeightEncoding, WeightPart};

/// How the weight-reading pipelines read their part: `load_u32` and friends over a buffer, or
/// over row quads in a texture; then the bytes' values the dequantizer snippets use.
const COMMON: &str = concat!(
    include_str!("common.wgsl"),
    include_str!("byte_values.wgsl")
);
const ROW_QUAD_COMMON: &str = concat!(
    include_str!("row_quads.wgsl"),
    include_str!("row_quad_bytes.wgsl"),
    include_str!("byte_values.wgsl")
);

/// The dequantizer snippet for a weight type stored in `encoding`, or `None` when the GPU cannot
/// read it.
pub(crate) fn dequant_snippet(ty: GgmlType, encoding: WeightEncoding) -> Option<&'static str> {
    match (encoding, ty) {
        (WeightEncoding::Gguf, _) => {}
        (WeightEncoding::Q6KBytes, GgmlType::Q6K) => {
            return Some(include_str!("dequant_q6_k_bytes.wgsl"))
        }
        (WeightEncoding::Q8_0Words, GgmlType::Q8_0) => {
            return Some(include_str!("dequant_q8_0_words.wgsl"))
        }
        (WeightEncoding::Q6KLanes, GgmlType::Q6K) => {
            return Some(include_str!("dequant_q6_k_lanes.wgsl"))
        }
        _ => return None,
    }
    Some(match ty {
        GgmlType::F32 => include_str!("dequant_f32.wgsl"),
        GgmlType::F16 => include_str!("dequant_f16.wgsl"),
        GgmlType::Bf16 => include_str!("dequant_bf16.wgsl"),
        GgmlType::Q8_0 => include_str!("dequant_q8_0.wgsl"),
        GgmlType::Q4_0 => include_str!("dequant_q4_0.wgsl"),
        GgmlType::Q4_1 => include_str!("dequant_q4_1.wgsl"),
        GgmlType::Q4K => include_str!("dequant_q4_k.wgsl"),
        GgmlType::Q5K => include_str!("dequant_q5_k.wgsl"),
        GgmlType::Q6K => include_str!("dequant_q6_k.wgsl"),
        _ => return None,
    })
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KernelError {
    #[error("no GPU dequantizer for {0} weights")]
    UnsupportedType(GgmlType),
}

/// Builds the compute pipeline of `skeleton` for weights of type `ty` stored in `encoding`, with
/// `outputs` read-write buffers (see [`source_pipeline`]).
pub(crate) fn weight_pipeline(
    device: &wgpu::Device,
    label: &str,
    skeleton: &str,
    ty: GgmlType,
    encoding: WeightEncoding,
    outputs: u32,
) -> Result<wgpu::ComputePipeline, KernelError> {
    let snippet = dequant_snippet(ty, encoding).ok_or(KernelError::UnsupportedType(ty))?;
    let common = if encoding.is_row_quads() {
        ROW_QUAD_COMMON
    } else {
        COMMON
    };
    let source = format!("{common}\n{snippet}\n{skeleton}");
    Ok(source_pipeline(
        device,
        &format!("{label} {ty}"),
        &source,
        encoding.is_row_quads(),
        outputs,
    ))
}

/// Builds the compute pipeline of a complete WGSL source (entry point `main`), whose weight
/// part is in row quads (`row_quads.wgsl`) or a buffer, and which writes `outputs` buffers
/// (binding 2, then 5, 6: a matrix product's three, the embedding lookup's one).
pub(crate) fn source_pipeline(
    device: &wgpu::Device,
    label: &str,
    source: &str,
    row_quads: bool,
    outputs: u32,
) -> wgpu::ComputePipeline {
    let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
        label: Some(label),
        source: wgpu::ShaderSource::Wgsl(source.into()),
    });
    if row_quads {
        row_quad_pipeline(device, &module, label, outputs)
    } else {
        compute_pipeline(device, &module, label, "main")
    }
}

/// Output buffers every matrix product binds (gemv_io.wgsl, gemm_io.wgsl): y and the stacked
/// members' y1, y2.
pub(crate) const MATMUL_OUTPUTS: u32 = 3;

/// A matrix product written for one weight type and layout: on software adapters, where the
/// generic `gemv_rows.wgsl`/`gemm_rows.wgsl` spend most of their time in per-lane loads and
/// shifts (see `gemv_rows_q8_0_words.wgsl`); on GPUs, where the generic kernels' lanes gather
/// from scattered addresses (see `gemv_q6_k_lanes.wgsl`).
pub(crate) struct TypedKernel {
    /// The complete WGSL source.
    pub source: &'static str,
    /// `WG · ROWS` of the kernel.
    pub rows_per_workgroup: u32,
    /// Tokens a workgroup covers (1 for a GEMV).
    pub tokens_per_workgroup: u32,
    /// Whether it reads its weights as row quads (`row_quads.wgsl`) rather than a buffer.
    pub row_quads: bool,
}

/// The pipeline a matrix product runs and how much of the output one workgroup covers.
pub(crate) struct MatmulPipeline {
    pub pipeline: wgpu::ComputePipeline,
    pub rows_per_workgroup: u32,
    /// Tokens a workgroup covers (1 for a GEMV).
    pub tokens_per_workgroup: u32,
}

impl MatmulPipeline {
    /// The typed kernel `typed` has for `ty` in `layout`, or else the generic kernel
    /// `generic` builds; `tail` (WGSL) ends either's source. Only the one that runs is built:
    /// each is a shader compile, 40–90 ms on SwiftShader.
    pub fn choose(
        device: &wgpu::Device,
        label: &str,
        ty: GgmlType,
        layout: MatmulLayout,
        typed: fn(GgmlType, MatmulLayout) -> Option<TypedKernel>,
        tail: &str,
        generic: impl FnOnce() -> Result<Self, KernelError>,
    ) -> Result<Self, KernelError> {
        match typed(ty, layout) {
            Some(kernel) => Ok(Self {
                pipeline: source_pipeline(
                    device,
                    &format!("{label} {layout:?} {ty}"),
                    &format!("{}\n{tail}", kernel.source),
                    kernel.row_quads,
                    MATMUL_OUTPUTS,
                ),
                rows_per_workgroup: kernel.rows_per_workgroup,
                tokens_per_workgroup: kernel.tokens_per_workgroup,
            }),
            None => generic(),
        }
    }
}

/// Where a matrix product writes: one buffer, or for a stack of matrices in one tensor
/// (engine/weights.rs) each member's buffer and rows, in stack order.
pub struct StackedOutputs<'a> {
    members: Vec<(&'a wgpu::Buffer, u32)>,
}

impl<'a> StackedOutputs<'a> {
    /// All `rows` rows to `y`.
    pub fn single(y: &'a wgpu::Buffer, rows: u32) -> Self {
        Self::new(&[(y, rows)])
    }

    /// One to three members: (buffer, rows) each.
    pub fn new(members: &[(&'a wgpu::Buffer, u32)]) -> Self {
        assert!(
            (1..=MATMUL_OUTPUTS as usize).contains(&members.len()),
            "a stack of {} matrices",
            members.len()
        );
        Self {
            members: members.to_vec(),
        }
    }

    /// The first rows written to the second and third buffers (split1, split2 in
    /// gemv_io.wgsl), and the three buffers to bind (`spare` ones where a member is absent).
    fn bind<'b>(
        &'b self,
        w: &GpuWeight,
        spare: &'b [wgpu::Buffer; 2],
    ) -> ([u32; 2], [&'b wgpu::Buffer; 3]) {
        let rows: u32 = self.members.iter().map(|m| m.1).sum();
        assert_eq!(rows, w.rows(), "{}: the stack's rows", w.name());
        let member = |i: usize| self.members.get(i);
        let split1 = self.members[0].1;
        let split2 = split1 + member(1).map_or(0, |m| m.1);
        let buffers = [
            self.members[0].0,
            member(1).map_or(&spare[0], |m| m.0),
            member(2).map_or(&spare[1], |m| m.0),
        ];
        ([split1, split2], buffers)
    }
}

/// Two small buffers a matrix product binds for the outputs a single matrix does not have (the
/// kernels never write them: WebGPU forbids binding one buffer twice where either is written).
pub(crate) fn spare_outputs(device: &wgpu::Device) -> [wgpu::Buffer; 2] {
    [0, 1].map(|i| {
        device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(&format!("spare output {i}")),
            size: 16,
            usage: wgpu::BufferUsages::STORAGE,
            mapped_at_creation: false,
        })
    })
}

/// A small uniform buffer of u32 parameters.
pub(crate) fn params_buffer(device: &wgpu::Device, label: &str, params: &[u32]) -> wgpu::Buffer {
    uniform_buffer(device, label, bytemuck::cast_slice(params))
}

/// Recorded dispatches, one per weight part: bind groups and parameters are created once by a
/// `prepare` call and reused by every `encode` (the engine records the same ~100 dispatches
/// for every token).
#[derive(Debug, Clone)]
pub(crate) struct Dispatches {
    pub pipeline: wgpu::ComputePipeline,
    /// (bind group, workgroups x, workgroups y), in part order.
    pub groups: Vec<(wgpu::BindGroup, u32, u32)>,
}

impl Dispatches {
    /// One dispatch per part of `w`, binding (part, `a`, `b`, parameters) and `more` from
    /// binding 5 on: `setup` gives each part's u32 parameters and how many workgroups it needs
    /// (spread over a 2-D grid when that exceeds the per-dimension limit).
    #[allow(clippy::too_many_arguments)]
    pub fn over_parts(
        device: &wgpu::Device,
        limits: &wgpu::Limits,
        pipeline: &wgpu::ComputePipeline,
        label: &str,
        w: &GpuWeight,
        a: &wgpu::Buffer,
        b: &wgpu::Buffer,
        more: &[&wgpu::Buffer],
        setup: impl Fn(&WeightPart) -> (Vec<u32>, u32),
    ) -> Self {
        let sampler = w.encoding().is_row_quads().then(|| {
            device.create_sampler(&wgpu::SamplerDescriptor {
                label: Some("row quads"),
                ..Default::default()
            })
        });
        let groups = w
            .parts()
            .iter()
            .map(|part| {
                let (params, workgroups) = setup(part);
                let params = params_buffer(device, label, &params);
                let mut entries = vec![
                    wgpu::BindGroupEntry {
                        binding: 0,
                        resource: part.binding(),
                    },
                    wgpu::BindGroupEntry {
                        binding: 1,
                        resource: a.as_entire_binding(),
                    },
                    wgpu::BindGroupEntry {
                        binding: 2,
                        resource: b.as_entire_binding(),
                    },
                    wgpu::BindGroupEntry {
                        binding: 3,
                        resource: params.as_entire_binding(),
                    },
                ];
                if let Some(sampler) = &sampler {
                    entries.push(wgpu::BindGroupEntry {
                        binding: 4,
                        resource: wgpu::BindingResource::Sampler(sampler),
                    });
                }
                entries.extend(more.iter().zip(5..).map(|(buffer, binding)| {
                    wgpu::BindGroupEntry {
                        binding,
                        resource: buffer.as_entire_binding(),
                    }
                }));
                let bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
                    label: Some(w.name()),
                    layout: &pipeline.get_bind_group_layout(0),
                    entries: &entries,
                });
                let grid = WorkgroupGrid::covering(
                    workgroups,
                    limits.max_compute_workgroups_per_dimension,
                );
                (bind_group, grid.x, grid.y)
            })
            .collect();
        Self {
            pipeline: pipeline.clone(),
            groups,
        }
    }

    pub fn encode(&self, pass: &mut wgpu::ComputePass<'_>) {
        pass.set_pipeline(&self.pipeline);
        for (bind_group, x, y) in &self.groups {
            pass.set_bind_group(0, bind_group, &[]);
            super::grid::dispatch(pass, *x, *y);
        }
    }
}

#[cfg(test)]
pub(crate) mod test_util;
