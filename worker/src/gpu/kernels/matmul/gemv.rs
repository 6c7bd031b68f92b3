//! GEMV for decode: `y = W·x` (or `y += W·x`, the residual add fused) with `W` in its GGUF
//! encoding.

use super::{
    spare_outputs, weight_pipeline, Dispatches, KernelError, MatmulLayout, MatmulPipeline,
    StackedOutputs, TypedKernel, MATMUL_OUTPUTS,
};
use crate::gguf::GgmlType;
use crate::gpu::kernels::params::in_pass;
use crate::gpu::{GpuContext, GpuWeight, WeightEncoding};
use crate::quant::{dequantize_to_vec, QuantError};

fn skeleton(layout: MatmulLayout) -> &'static str {
    match layout {
        MatmulLayout::Cooperative => concat!(
            include_str!("gemv_io.wgsl"),
            include_str!("gemv_team.wgsl"),
            include_str!("gemv.wgsl")
        ),
        MatmulLayout::RowPerInvocation => {
            concat!(include_str!("gemv_io.wgsl"), include_str!("gemv_rows.wgsl"))
        }
    }
}

/// Must match `ROWS_PER_WG` in gemv_team.wgsl and `WG` in gemv_rows.wgsl.
fn rows_per_workgroup(layout: MatmulLayout) -> u32 {
    match layout {
        MatmulLayout::Cooperative => 8,
        MatmulLayout::RowPerInvocation => 64,
    }
}

fn typed_kernel(ty: GgmlType, layout: MatmulLayout) -> Option<TypedKernel> {
    if layout == MatmulLayout::Cooperative {
        return match ty {
            // Reads WeightEncoding::Q6KLanes.
            GgmlType::Q6K => Some(TypedKernel {
                source: concat!(
                    include_str!("common.wgsl"),
                    include_str!("byte_values.wgsl"),
                    include_str!("gemv_io.wgsl"),
                    include_str!("gemv_team.wgsl"),
                    include_str!("gemv_q6_k_lanes.wgsl")
                ),
                rows_per_workgroup: 8,
                tokens_per_workgroup: 1,
                row_quads: false,
            }),
            _ => None,
        };
    }
    match ty {
        // Reads WeightEncoding::Q8_0Words.
        GgmlType::Q8_0 => Some(TypedKernel {
            source: concat!(
                include_str!("gemv_io.wgsl"),
                include_str!("row_quads.wgsl"),
                include_str!("byte_lanes.wgsl"),
                include_str!("gemv_rows_q8_0_words.wgsl")
            ),
            rows_per_workgroup: 4 * 32,
            tokens_per_workgroup: 1,
            row_quads: true,
        }),
        // Reads WeightEncoding::Q6KBytes.
        GgmlType::Q6K => Some(TypedKernel {
            source: concat!(
                include_str!("gemv_io.wgsl"),
                include_str!("row_quads.wgsl"),
                include_str!("byte_lanes.wgsl"),
                include_str!("gemv_rows_q6_k_bytes.wgsl")
            ),
            rows_per_workgroup: 4 * 32,
            tokens_per_workgroup: 1,
            row_quads: true,
        }),
        _ => None,
    }
}

/// What a GEMV multiplies its weights by: `x`, or what the small op of the step before it
/// would have made of `x`, fused into the GEMV's staging of its input (GPUs only:
/// [`Gemv::fuses_inputs`]; `gemv_input_*.wgsl`).
#[derive(Debug, Clone, Copy, Default)]
pub enum GemvInput<'a> {
    #[default]
    X,
    /// `RMSNorm(x) ∘ weight` over the `cols` floats of `x` (../rms_norm.wgsl's).
    RmsNorm { weight: &'a wgpu::Buffer, eps: f32 },
    /// `silu(x) · up`, `up` at the same offsets as `x` (../swiglu.wgsl's).
    SwiGlu { up: &'a wgpu::Buffer },
}

impl GemvInput<'_> {
    /// The buffer bound beside `x` (binding 7), if any.
    fn buffer(&self) -> Option<&wgpu::Buffer> {
        match self {
            Self::X => None,
            Self::RmsNorm { weight, .. } => Some(weight),
            Self::SwiGlu { up } => Some(up),
        }
    }

    fn eps(&self) -> f32 {
        match self {
            Self::RmsNorm { eps, .. } => *eps,
            _ => 0.0,
        }
    }
}

/// Where a GEMV's rows go: to its outputs as they are, or (a decode step's stacked q/k/v, on
/// GPUs) through RoPE, with k and v into the layer's KV cache at the step's position
/// (`gemv_store_rope.wgsl`): the stacked outputs are then q, the K cache and the V cache.
#[derive(Debug, Clone, Copy, Default)]
pub enum GemvOutput<'a> {
    #[default]
    Rows,
    Rope(RopeStore<'a>),
}

/// What [`GemvOutput::Rope`] needs besides the rows.
#[derive(Debug, Clone, Copy)]
pub struct RopeStore<'a> {
    /// The step uniform (its position).
    pub step: &'a wgpu::Buffer,
    /// Llama 3.x frequency factors, if the model has them.
    pub freqs: Option<&'a wgpu::Buffer>,
    pub head_dim: u32,
    pub rope_dims: u32,
    pub base: f32,
    /// Rows of the KV cache.
    pub capacity: u32,
}

/// The GPU layout's pipelines: (input, how rows are stored) for the combinations the engine
/// runs, in the order of [`Gemv`]'s pipelines.
const GPU_VARIANTS: [(&str, &str); 4] = [
    (
        include_str!("gemv_input_x.wgsl"),
        include_str!("gemv_store_rows.wgsl"),
    ),
    (
        include_str!("gemv_input_rms_norm.wgsl"),
        include_str!("gemv_store_rows.wgsl"),
    ),
    (
        include_str!("gemv_input_swiglu.wgsl"),
        include_str!("gemv_store_rows.wgsl"),
    ),
    (
        include_str!("gemv_input_rms_norm.wgsl"),
        concat!(
            include_str!("../rope_angle.wgsl"),
            include_str!("gemv_store_rope.wgsl")
        ),
    ),
];

/// The index in [`GPU_VARIANTS`] of a GEMV's input and output.
fn variant(input: &GemvInput<'_>, output: &GemvOutput<'_>) -> Option<usize> {
    match (input, output) {
        (GemvInput::X, GemvOutput::Rows) => Some(0),
        (GemvInput::RmsNorm { .. }, GemvOutput::Rows) => Some(1),
        (GemvInput::SwiGlu { .. }, GemvOutput::Rows) => Some(2),
        (GemvInput::RmsNorm { .. }, GemvOutput::Rope(_)) => Some(3),
        _ => None,
    }
}

/// Options of one GEMV. Offsets count f32 elements.
#[derive(Debug, Clone, Copy, Default)]
pub struct GemvOptions<'a> {
    /// Add to `y` instead of overwriting it (the fused residual add).
    pub accumulate: bool,
    /// Where `x` starts in its buffer.
    pub x_offset: u32,
    /// Where `y` starts in its buffer (`y[y_offset + r]` receives row `r`).
    pub y_offset: u32,
    /// What multiplies the weights.
    pub input: GemvInput<'a>,
    /// Where the rows go.
    pub output: GemvOutput<'a>,
}

/// The GEMV pipelines for one weight type.
pub struct Gemv {
    ty: GgmlType,
    encoding: WeightEncoding,
    /// On GPUs one per [`GPU_VARIANTS`] entry; on software adapters one, of `x` stored as rows.
    kernels: Vec<MatmulPipeline>,
    /// Bound as the outputs a single matrix does not have.
    spare: [wgpu::Buffer; 2],
}

/// One GEMV with its bind groups made: record it any number of times with [`Self::encode`].
#[derive(Debug, Clone)]
pub struct PreparedGemv(Dispatches);

impl PreparedGemv {
    /// Records the GEMV (one dispatch per weight part) into an open compute pass.
    pub fn encode(&self, pass: &mut wgpu::ComputePass<'_>) {
        self.0.encode(pass);
    }
}

impl Gemv {
    /// The pipelines for `ty` weights in `layout` on the adapter behind `ctx`.
    pub fn new(ctx: &GpuContext, ty: GgmlType, layout: MatmulLayout) -> Result<Self, KernelError> {
        Self::with_team_sum(&ctx.device, ty, layout, ctx.subgroup_teams())
    }

    /// [`Self::new`] with the GPU layout's teams summing by subgroup shuffles or not.
    fn with_team_sum(
        device: &wgpu::Device,
        ty: GgmlType,
        layout: MatmulLayout,
        subgroup_teams: bool,
    ) -> Result<Self, KernelError> {
        let encoding = WeightEncoding::for_weights(ty, layout);
        // Software adapters keep the small ops apart: each pipeline costs a compile of warm
        // load there, and their kernels read x lane by lane, not staged.
        let variants = match layout {
            MatmulLayout::Cooperative => &GPU_VARIANTS[..],
            MatmulLayout::RowPerInvocation => &[("", "")][..],
        };
        let team_sum = match (layout, subgroup_teams) {
            (MatmulLayout::RowPerInvocation, _) => "",
            (MatmulLayout::Cooperative, true) => include_str!("gemv_team_sum_subgroup.wgsl"),
            (MatmulLayout::Cooperative, false) => include_str!("gemv_team_sum_workgroup.wgsl"),
        };
        let kernels = variants
            .iter()
            .map(|(input, store)| {
                let tail = format!("{team_sum}\n{input}\n{store}");
                let generic = || {
                    Ok(MatmulPipeline {
                        pipeline: weight_pipeline(
                            device,
                            "gemv",
                            &format!("{}\n{tail}", skeleton(layout)),
                            ty,
                            encoding,
                            MATMUL_OUTPUTS,
                        )?,
                        rows_per_workgroup: rows_per_workgroup(layout),
                        tokens_per_workgroup: 1,
                    })
                };
                MatmulPipeline::choose(device, "gemv", ty, layout, typed_kernel, &tail, generic)
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            ty,
            encoding,
            kernels,
            spare: spare_outputs(device),
        })
    }

    /// Whether [`GemvOptions::input`] may be other than `x` (and [`GemvOptions::output`] RoPE).
    pub fn fuses_inputs(&self) -> bool {
        self.kernels.len() > 1
    }

    pub fn ty(&self) -> GgmlType {
        self.ty
    }

    /// Binds `w`, `x` (≥ `x_offset + cols` f32) and `y` (≥ `y_offset + rows` f32) once.
    /// `limits.max_compute_workgroups_per_dimension` decides when the grid goes 2-D.
    pub fn prepare(
        &self,
        device: &wgpu::Device,
        limits: &wgpu::Limits,
        w: &GpuWeight,
        x: &wgpu::Buffer,
        y: &wgpu::Buffer,
        options: GemvOptions,
    ) -> PreparedGemv {
        let outputs = StackedOutputs::single(y, w.rows());
        self.prepare_stacked(device, limits, w, x, &outputs, options)
    }

    /// [`Self::prepare`] for a stack of matrices in one tensor (engine/weights.rs): each
    /// member's rows go to its own buffer (`options.y_offset` applies to the first).
    pub fn prepare_stacked(
        &self,
        device: &wgpu::Device,
        limits: &wgpu::Limits,
        w: &GpuWeight,
        x: &wgpu::Buffer,
        outputs: &StackedOutputs<'_>,
        options: GemvOptions,
    ) -> PreparedGemv {
        assert_eq!(w.ty(), self.ty, "{}: GEMV pipeline type", w.name());
        assert_eq!(w.encoding(), self.encoding, "{}: GEMV encoding", w.name());
        let (splits, buffers) = outputs.bind(w, &self.spare);
        debug_assert!(x.size() >= 4 * (options.x_offset as u64 + w.cols() as u64));
        debug_assert!(buffers[0].size() >= 4 * (options.y_offset as u64 + splits[0] as u64));
        let (input, output) = (options.input, options.output);
        let kernel = variant(&input, &output)
            .and_then(|i| self.kernels.get(i))
            .unwrap_or_else(|| {
                panic!("{}: no GEMV pipeline for {input:?} to {output:?}", w.name())
            });
        let mut more = buffers[1..].to_vec();
        more.extend(input.buffer());
        let rope = match output {
            GemvOutput::Rows => None,
            GemvOutput::Rope(rope) => {
                // k and v rows are each one KV cache row (gemv_store_rope.wgsl's kv_rows).
                assert!(
                    splits[0] < splits[1] && w.rows() - splits[1] == splits[1] - splits[0],
                    "{}: RoPE stores a stack of q, then k and v of one size",
                    w.name()
                );
                // A pair of rows must not straddle two parts.
                assert!(
                    w.parts().iter().all(|p| p.first_row.is_multiple_of(2)),
                    "{}: a part starts at an odd row",
                    w.name()
                );
                // WGSL has no optional bindings: without factors, bind a buffer it never reads.
                more.extend([rope.step, rope.freqs.unwrap_or(&self.spare[0])]);
                Some(rope)
            }
        };
        PreparedGemv(Dispatches::over_parts(
            device,
            limits,
            &kernel.pipeline,
            "gemv params",
            w,
            x,
            buffers[0],
            &more,
            |part| {
                let params = vec![
                    part.rows,
                    w.cols(),
                    part.first_row,
                    options.accumulate as u32,
                    options.x_offset,
                    options.y_offset,
                    splits[0],
                    splits[1],
                    input.eps().to_bits(),
                    rope.map_or(0, |r| r.head_dim),
                    rope.map_or(0, |r| r.rope_dims),
                    rope.map_or(0, |r| r.base.to_bits()),
                    rope.is_some_and(|r| r.freqs.is_some()) as u32,
                    rope.map_or(0, |r| r.capacity),
                    0,
                    0,
                ];
                (params, part.rows.div_ceil(kernel.rows_per_workgroup))
            },
        ))
    }

    /// Prepares and records in one go, in a compute pass of its own (for tests and one-offs).
    #[allow(clippy::too_many_arguments)]
    pub fn encode(
        &self,
        device: &wgpu::Device,
        limits: &wgpu::Limits,
        encoder: &mut wgpu::CommandEncoder,
        w: &GpuWeight,
        x: &wgpu::Buffer,
        y: &wgpu::Buffer,
        options: GemvOptions,
    ) {
        let prepared = self.prepare(device, limits, w, x, y, options);
        in_pass(encoder, "gemv", |pass| prepared.encode(pass));
    }
}

/// The CPU twin: dequantize `w` (`rows × cols` of `ty`, GGUF bytes) and multiply in f32.
pub fn gemv_cpu(
    ty: GgmlType,
    w: &[u8],
    rows: usize,
    cols: usize,
    x: &[f32],
) -> Result<Vec<f32>, QuantError> {
    let w = dequantize_to_vec(ty, w)?;
    assert_eq!(w.len(), rows * cols);
    Ok(w.chunks_exact(cols)
        .map(|row| row.iter().zip(x).map(|(a, b)| a * b).sum())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::super::test_util::*;
    use super::super::StackedOutputs;
    use super::*;
    use crate::gpu::test_support::gpu;
    use crate::gpu::GPU_WEIGHT_TYPES;

    struct Case {
        ty: GgmlType,
        rows: u32,
        cols: u32,
        max_part: u64,
        max_per_dim: u32,
        accumulate: bool,
    }

    fn case(ty: GgmlType, rows: u32, cols: u32) -> Case {
        Case {
            ty,
            rows,
            cols,
            max_part: u64::MAX,
            max_per_dim: 65535,
            accumulate: false,
        }
    }

    /// Runs one GEMV on the GPU in every layout and compares it with `gemv_cpu`; returns the
    /// weight's part count.
    fn check(c: Case) -> usize {
        let gpu = gpu();
        let (rows, cols) = (c.rows as usize, c.cols as usize);
        let bytes = random_weight(c.ty, rows, cols, (rows * 31 + cols) as u64);
        let max_part = c.max_part.min(crate::gpu::max_part_bytes(&gpu.limits));
        let x = random_f32(cols, 5);
        let y0 = random_f32(rows, 6);
        let xb = storage_f32(&x);
        let mut want = gemv_cpu(c.ty, &bytes, rows, cols, &x).unwrap();
        let mut scale = abs_dots(c.ty, &bytes, cols, &x);
        if c.accumulate {
            for ((w, s), y) in want.iter_mut().zip(&mut scale).zip(&y0) {
                *w += y;
                *s += y.abs();
            }
        }
        let mut parts = 0;
        for layout in MatmulLayout::ALL {
            let w = upload(c.ty, layout, c.rows, c.cols, &bytes, max_part);
            parts = parts.max(w.parts().len());
            let yb = storage_f32(&y0);
            let kernel = Gemv::new(gpu, c.ty, layout).unwrap();
            let options = GemvOptions {
                accumulate: c.accumulate,
                ..Default::default()
            };
            let mut encoder = gpu.device.create_command_encoder(&Default::default());
            let limits = limits_with(c.max_per_dim);
            kernel.encode(&gpu.device, &limits, &mut encoder, &w, &xb, &yb, options);
            gpu.queue.submit([encoder.finish()]);
            let got = read_f32(&yb, rows);
            let what = format!(
                "{layout:?} {} {}x{} in {} parts",
                c.ty,
                rows,
                cols,
                w.parts().len()
            );
            assert_dots_close(&what, &got, &want, &scale);
        }
        parts
    }

    /// Stacked matrices (q, k and v as one tensor) write each member's rows to its own buffer,
    /// in every layout, across parts that split members.
    #[test]
    fn stacked_matrices_write_each_members_rows_to_its_buffer() {
        let gpu = gpu();
        for (ty, members, cols, max_part) in [
            (GgmlType::Q8_0, vec![40u32, 24, 32], 576u32, 48 * 1024u64),
            (GgmlType::Q6K, vec![72, 40], 512, 32 * 1024),
            (GgmlType::F16, vec![8, 4, 4], 256, u64::MAX),
        ] {
            let cols_us = cols as usize;
            let weights = random_members(ty, &members, cols_us, 70);
            let stacked: Vec<u8> = weights.concat();
            let rows: u32 = members.iter().sum();
            let x = random_f32(cols_us, 11);
            let xb = storage_f32(&x);
            for layout in MatmulLayout::ALL {
                let max_part = max_part.min(crate::gpu::max_part_bytes(&gpu.limits));
                let w = upload(ty, layout, rows, cols, &stacked, max_part);
                let outputs = member_outputs(&members, 1);
                let pairs: Vec<(&wgpu::Buffer, u32)> =
                    outputs.iter().zip(members.iter().copied()).collect();
                let kernel = Gemv::new(gpu, ty, layout).unwrap();
                let prepared = kernel.prepare_stacked(
                    &gpu.device,
                    &gpu.limits,
                    &w,
                    &xb,
                    &StackedOutputs::new(&pairs),
                    GemvOptions::default(),
                );
                let mut encoder = gpu.device.create_command_encoder(&Default::default());
                in_pass(&mut encoder, "stacked", |pass| prepared.encode(pass));
                gpu.queue.submit([encoder.finish()]);
                for (i, ((bytes, &r), out)) in
                    weights.iter().zip(&members).zip(&outputs).enumerate()
                {
                    let want = gemv_cpu(ty, bytes, r as usize, cols_us, &x).unwrap();
                    let scale = abs_dots(ty, bytes, cols_us, &x);
                    let got = read_f32(out, r as usize);
                    let what = format!(
                        "{layout:?} {ty} member {i} of {members:?}, {} parts",
                        w.parts().len()
                    );
                    assert_dots_close(&what, &got, &want, &scale);
                }
            }
        }
    }

    #[test]
    fn every_type_at_2048_columns_with_a_partial_workgroup() {
        for ty in GPU_WEIGHT_TYPES {
            check(case(ty, 19, 2048));
        }
    }

    #[test]
    fn every_type_at_256_columns_with_unaligned_rows() {
        // 210-byte Q6_K rows (and 34-, 18-byte blocks) start at odd multiples of 2.
        for ty in GPU_WEIGHT_TYPES {
            check(case(ty, 37, 256));
        }
    }

    #[test]
    fn q8_0_at_576_columns() {
        // 576 is not a multiple of 256: SmolLM2's tensors fall back to Q8_0 there.
        check(case(GgmlType::Q8_0, 75, 576));
        check(case(GgmlType::F32, 9, 576));
    }

    #[test]
    fn q6_k_at_each_block_count_of_an_x_tile() {
        // A 2048-wide tile holds 8 blocks a row, 4 for each half of a team: every count from 1
        // to 8, alone and as the partial tile after a whole one (whose x is still staged past
        // the partial tile's end).
        for blocks in (1..=8).chain(9..16) {
            check(case(GgmlType::Q6K, 11, 256 * blocks));
        }
    }

    #[test]
    fn columns_beyond_one_x_tile() {
        // 8192 columns (Llama 3.2 1B's ffn_down) take 4 tiles of staged x.
        check(case(GgmlType::Q6K, 10, 8192));
        check(case(GgmlType::Q8_0, 10, 2048 + 576));
    }

    #[test]
    fn rows_too_wide_for_four_quads_a_texture_line() {
        // Row quads hold up to 32 quads a line, fewer where the texture is not wide enough
        // (gpu/weights.rs): Q8_0 rows as wide as the adapter's largest texture take 9/32 of it
        // in words (2 quads a line), twice as wide 9/16 (1 a line). 21 rows: a partial line.
        let max_dim = gpu().limits.max_texture_dimension_2d;
        check(case(GgmlType::Q8_0, 21, max_dim));
        check(case(GgmlType::Q8_0, 21, 2 * max_dim));
    }

    #[test]
    fn split_weights_across_several_bindings() {
        for (ty, rows, cols) in [
            (GgmlType::Q6K, 200, 2048),
            (GgmlType::Q6K, 700, 256),
            (GgmlType::Q8_0, 300, 576),
            (GgmlType::F16, 200, 512),
        ] {
            let parts = check(Case {
                max_part: 64 * 1024,
                ..case(ty, rows, cols)
            });
            assert!(parts >= 3, "{ty} {rows}x{cols}: {parts} parts");
        }
    }

    #[test]
    fn fused_residual_add() {
        for ty in [GgmlType::Q6K, GgmlType::Q8_0, GgmlType::F32] {
            check(Case {
                accumulate: true,
                max_part: 32 * 1024,
                ..case(ty, 77, 256)
            });
        }
    }

    #[test]
    fn typed_kernels_at_model_shapes_with_the_residual_add() {
        // SmolLM2's ffn_down (Q6_K, 6 blocks a row) and attention projections (Q8_0, 9 block
        // pairs), split so that parts start mid-matrix; rows not a multiple of 8; tensors of
        // more rows than one software workgroup's 128.
        for (ty, rows, cols, max_part) in [
            (GgmlType::Q6K, 93, 1536, 96 * 1024),
            (GgmlType::Q8_0, 101, 576, 40 * 1024),
            (GgmlType::Q6K, 1107, 512, 256 * 1024),
            (GgmlType::Q8_0, 1030, 576, 256 * 1024),
        ] {
            let parts = check(Case {
                accumulate: true,
                max_part,
                ..case(ty, rows, cols)
            });
            assert!(parts >= 2, "{ty} {rows}x{cols}");
        }
    }

    #[test]
    fn more_rows_than_one_grid_dimension() {
        check(Case {
            max_per_dim: 1000,
            ..case(GgmlType::Q8_0, 70_000, 32)
        });
        check(Case {
            max_per_dim: 7,
            max_part: 64 * 1024,
            ..case(GgmlType::Q6K, 1000, 256)
        });
    }

    /// On GPUs a GEMV takes RMSNorm(x) ∘ g or silu(gate) · up as its input, in place of the
    /// norm's and SwiGLU's own dispatches: against the CPU ops, then `gemv_cpu`. x starts past
    /// another token's row (the prefill's last-position output), has more columns than a
    /// workgroup's lanes and than one staged tile, and the weights come in several parts.
    #[test]
    fn fused_inputs_match_the_ops_they_replace() {
        let gpu = gpu();
        let layout = MatmulLayout::Cooperative;
        for (ty, rows, cols) in [
            (GgmlType::Q6K, 37, 2048),
            (GgmlType::Q8_0, 101, 576),
            (GgmlType::F16, 12, 2048 + 576),
        ] {
            let (r, c) = (rows as usize, cols as usize);
            let bytes = random_weight(ty, r, c, 7 + r as u64);
            let w = upload(ty, layout, rows, cols, &bytes, 48 * 1024);
            assert!(w.parts().len() >= 2, "{ty}: {} parts", w.parts().len());
            let kernel = Gemv::new(gpu, ty, layout).unwrap();
            assert!(kernel.fuses_inputs());
            // Two tokens' rows; the GEMV reads the second.
            let x = random_f32(2 * c, 21);
            let other = random_f32(2 * c, 22);
            let (xb, other_b) = (storage_f32(&x), storage_f32(&other));
            let last = &x[c..];
            let eps = 1e-5;
            let inputs = [
                (
                    "RMSNorm",
                    GemvInput::RmsNorm {
                        weight: &other_b,
                        eps,
                    },
                    crate::cpu::ops::rmsnorm(last, &other[..c], eps),
                ),
                (
                    "SwiGLU",
                    GemvInput::SwiGlu { up: &other_b },
                    crate::cpu::ops::silu_mul(last, &other[c..]),
                ),
            ];
            for (name, input, effective) in inputs {
                let yb = output_buffer(r);
                let options = GemvOptions {
                    x_offset: cols,
                    input,
                    ..Default::default()
                };
                let prepared = kernel.prepare(&gpu.device, &gpu.limits, &w, &xb, &yb, options);
                let mut encoder = gpu.device.create_command_encoder(&Default::default());
                in_pass(&mut encoder, "fused", |pass| prepared.encode(pass));
                gpu.queue.submit([encoder.finish()]);
                let want = gemv_cpu(ty, &bytes, r, c, &effective).unwrap();
                let scale = abs_dots(ty, &bytes, c, &effective);
                let what = format!("{ty} {rows}x{cols} {name}");
                assert_dots_close(&what, &read_f32(&yb, r), &want, &scale);
            }
        }
    }

    /// The GPU layout's teams sum by subgroup shuffles where subgroups have 32 lanes or more:
    /// the shader builds wherever the adapter has subgroups, and it computes the product where
    /// they are that wide (not lavapipe's 8: there the other GEMV tests run the workgroup sum).
    #[test]
    fn subgroup_team_sum() {
        let gpu = gpu();
        if !gpu.features.contains(wgpu::Features::SUBGROUP) {
            eprintln!("skipped: the adapter has no subgroups");
            return;
        }
        let layout = MatmulLayout::Cooperative;
        for (ty, rows, cols) in [(GgmlType::Q6K, 37, 2048), (GgmlType::Q8_0, 21, 576)] {
            let kernel = Gemv::with_team_sum(&gpu.device, ty, layout, true).unwrap();
            if !gpu.subgroup_teams() {
                continue;
            }
            let (r, c) = (rows as usize, cols as usize);
            let bytes = random_weight(ty, r, c, 3);
            let w = upload(ty, layout, rows, cols, &bytes, u64::MAX);
            let x = random_f32(c, 4);
            let (xb, yb) = (storage_f32(&x), output_buffer(r));
            let mut encoder = gpu.device.create_command_encoder(&Default::default());
            kernel.encode(
                &gpu.device,
                &gpu.limits,
                &mut encoder,
                &w,
                &xb,
                &yb,
                Default::default(),
            );
            gpu.queue.submit([encoder.finish()]);
            let want = gemv_cpu(ty, &bytes, r, c, &x).unwrap();
            let scale = abs_dots(ty, &bytes, c, &x);
            let what = format!("{ty} {rows}x{cols} by subgroups");
            assert_dots_close(&what, &read_f32(&yb, r), &want, &scale);
        }
    }

    /// A decode step's stacked q/k/v GEMV on GPUs stores q and k through RoPE and k and v into
    /// the KV cache row of the step's position, leaving the other rows alone: against the CPU
    /// ops (RMSNorm, the products, `rope_in_place`), with a partial rotation (32 of 64
    /// dimensions), frequency factors and parts that split the stack.
    #[test]
    fn stacked_q_k_v_store_through_rope_into_the_cache() {
        use crate::cpu::ops::{rmsnorm, rope_in_place};
        let gpu = gpu();
        let layout = MatmulLayout::Cooperative;
        let ty = GgmlType::Q6K;
        let (head_dim, rope_dims, n_heads, n_kv) = (64usize, 32usize, 4usize, 2usize);
        let (pos, capacity, base, cols) = (5usize, 8usize, 10000.0f32, 512usize);
        let members = [
            (n_heads * head_dim) as u32,
            (n_kv * head_dim) as u32,
            (n_kv * head_dim) as u32,
        ];
        let weights = random_members(ty, &members, cols, 31);
        let rows: u32 = members.iter().sum();
        let w = upload(ty, layout, rows, cols as u32, &weights.concat(), 48 * 1024);
        assert!(w.parts().len() >= 3, "{} parts", w.parts().len());
        let x = random_f32(cols, 32);
        let g = random_f32(cols, 33);
        let factors: Vec<f32> = random_f32(rope_dims / 2, 34)
            .iter()
            .map(|f| 2.0 + f)
            .collect();
        let kv_row = n_kv * head_dim;
        let cache0 = random_f32(capacity * kv_row, 35);
        let (xb, gb, fb) = (storage_f32(&x), storage_f32(&g), storage_f32(&factors));
        let q_out = output_buffer(n_heads * head_dim);
        let (k_cache, v_cache) = (storage_f32(&cache0), storage_f32(&cache0));
        let step = crate::gpu::kernels::StepUniform::with(
            &gpu.device,
            crate::gpu::kernels::StepParams::new(1, pos as u32),
        );
        let kernel = Gemv::new(gpu, ty, layout).unwrap();
        let outputs = StackedOutputs::new(&[
            (&q_out, members[0]),
            (&k_cache, members[1]),
            (&v_cache, members[2]),
        ]);
        let options = GemvOptions {
            input: GemvInput::RmsNorm {
                weight: &gb,
                eps: 1e-5,
            },
            output: GemvOutput::Rope(RopeStore {
                step: step.buffer(),
                freqs: Some(&fb),
                head_dim: head_dim as u32,
                rope_dims: rope_dims as u32,
                base,
                capacity: capacity as u32,
            }),
            ..Default::default()
        };
        let prepared = kernel.prepare_stacked(&gpu.device, &gpu.limits, &w, &xb, &outputs, options);
        let mut encoder = gpu.device.create_command_encoder(&Default::default());
        in_pass(&mut encoder, "rope store", |pass| prepared.encode(pass));
        gpu.queue.submit([encoder.finish()]);

        let normed = rmsnorm(&x, &g, 1e-5);
        let product = |i: usize| {
            let r = members[i] as usize;
            let y = gemv_cpu(ty, &weights[i], r, cols, &normed).unwrap();
            let scale = abs_dots(ty, &weights[i], cols, &normed);
            // A rotated row mixes its pair's two sums.
            let scale: Vec<f32> = (0..r).map(|j| scale[j] + scale[j ^ 1]).collect();
            (y, scale)
        };
        let (mut q, q_scale) = product(0);
        rope_in_place(
            &mut q,
            n_heads,
            head_dim,
            pos,
            base,
            rope_dims,
            Some(&factors),
        );
        assert_dots_close("q", &read_f32(&q_out, q.len()), &q, &q_scale);
        let (mut k, k_scale) = product(1);
        rope_in_place(&mut k, n_kv, head_dim, pos, base, rope_dims, Some(&factors));
        let (v, v_scale) = product(2);
        for (name, cache, want, scale) in
            [("k", &k_cache, &k, &k_scale), ("v", &v_cache, &v, &v_scale)]
        {
            let got = read_f32(cache, capacity * kv_row);
            let row = pos * kv_row..(pos + 1) * kv_row;
            assert_dots_close(name, &got[row.clone()], want, scale);
            assert_eq!(got[..row.start], cache0[..row.start], "{name}: rows before");
            assert_eq!(got[row.end..], cache0[row.end..], "{name}: rows after");
        }
    }

    /// Software adapters' GEMVs take only x: the engine keeps their norms and SwiGLU apart.
    #[test]
    fn software_gemvs_take_only_x() {
        for ty in [GgmlType::Q6K, GgmlType::Q8_0, GgmlType::F32] {
            let kernel = Gemv::new(gpu(), ty, MatmulLayout::RowPerInvocation).unwrap();
            assert!(!kernel.fuses_inputs(), "{ty}");
        }
    }

    #[test]
    fn prepared_gemv_records_again_with_new_inputs() {
        let gpu = gpu();
        let ty = GgmlType::Q6K;
        let bytes = random_weight(ty, 40, 512, 11);
        let xb = storage_f32(&vec![0.0; 512]);
        let yb = output_buffer(40);
        for layout in MatmulLayout::ALL {
            let w = upload(ty, layout, 40, 512, &bytes, 32 * 1024);
            let kernel = Gemv::new(gpu, ty, layout).unwrap();
            let prepared =
                kernel.prepare(&gpu.device, &gpu.limits, &w, &xb, &yb, Default::default());
            for seed in [1, 2] {
                let x = random_f32(512, seed);
                gpu.queue.write_buffer(&xb, 0, bytemuck::cast_slice(&x));
                let mut encoder = gpu.device.create_command_encoder(&Default::default());
                {
                    let mut pass = encoder.begin_compute_pass(&Default::default());
                    prepared.encode(&mut pass);
                }
                gpu.queue.submit([encoder.finish()]);
                let want = gemv_cpu(ty, &bytes, 40, 512, &x).unwrap();
                let scale = abs_dots(ty, &bytes, 512, &x);
                let what = format!("prepared {layout:?}");
                assert_dots_close(&what, &read_f32(&yb, 40), &want, &scale);
            }
        }
    }

    /// A speed probe, not a test: `cargo test --release -p hearth-worker --lib bench_gemv --
    /// --ignored --nocapture` (`cargo xtask bench` reports the same for a model). Weight bytes
    /// read per second by the GEMV divided by a buffer copy's bytes per second on the same
    /// adapter (lavapipe is not a GPU).
    #[test]
    #[ignore]
    fn bench_gemv() {
        for (ty, rows, cols) in [
            (GgmlType::Q6K, 8192, 2048),
            (GgmlType::Q6K, 2048, 8192),
            (GgmlType::Q8_0, 8192, 2048),
            (GgmlType::F32, 2048, 2048),
        ] {
            for layout in MatmulLayout::ALL {
                let m = super::super::bench::measure_gemv(gpu(), ty, layout, rows, cols, 10, 0)
                    .unwrap();
                println!(
                "{ty} {layout:?} {rows}x{cols}: gemv {:.3} ms, {:.2} GB/s; copy {:.2} GB/s; ratio {:.2}",
                m.gemv_seconds * 1e3,
                m.gemv_bytes_per_s() / 1e9,
                m.copy_bytes_per_s() / 1e9,
                m.ratio()
            );
            }
        }
    }
}
