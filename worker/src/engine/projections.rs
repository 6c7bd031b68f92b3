//! Matrices that multiply the same input (a layer's q, k and v; its gate and up), stacked into
//! one tensor when their weight type and width agree: rows one member after another, so one
//! dispatch computes them all and writes each member's rows to its own buffer
//! (`StackedOutputs`). A decode step then runs 2 matrix products per layer where it ran 5: on a
//! GPU each dispatch has a fixed cost of several µs, about as much as a small GEMV's work.
//!
//! The loader fills a [`Stack`] as the plan names its members, then streams each member's bytes
//! into its rows of the stacked tensor.

use super::model::Kernels;
use super::EngineError;
use crate::gguf::GgmlType;
use crate::gpu::kernels::matmul::StackedOutputs;
use crate::gpu::kernels::{GemvOptions, PreparedGemm, PreparedGemv};
use crate::gpu::{GpuWeight, WeightEncoding, STACK_ROWS};
use crate::model::{LayerTensor, ModelError};

/// The members of a stack, in row order.
pub const QKV: [LayerTensor; 3] = [LayerTensor::AttnQ, LayerTensor::AttnK, LayerTensor::AttnV];
pub const GATE_UP: [LayerTensor; 2] = [LayerTensor::FfnGate, LayerTensor::FfnUp];

/// A stack's matrices on the GPU.
pub enum Projections {
    /// One tensor; `rows` of each member, in order.
    Stacked { weight: GpuWeight, rows: Vec<u32> },
    /// Types or widths differ: one tensor each.
    Apart(Vec<GpuWeight>),
}

impl Projections {
    pub fn matrices(&self) -> impl Iterator<Item = &GpuWeight> {
        let (one, apart) = match self {
            Self::Stacked { weight, .. } => (Some(weight), &[][..]),
            Self::Apart(ws) => (None, &ws[..]),
        };
        one.into_iter().chain(apart)
    }

    /// Whether this is one stacked tensor whose parts all start at an even row, so that no pair
    /// of rows RoPE rotates together straddles two parts (`GemvOutput::Rope`).
    pub fn stacked_in_row_pairs(&self) -> bool {
        match self {
            Self::Stacked { weight, .. } => {
                weight.parts().iter().all(|p| p.first_row.is_multiple_of(2))
            }
            Self::Apart(_) => false,
        }
    }

    /// The GEMVs writing member i's rows to `outputs[i]` (from `x`, with `options`: a
    /// `GemvOutput::Rope` only where [`Self::stacked_in_row_pairs`]).
    pub(super) fn prepare_gemv(
        &self,
        kernels: &Kernels,
        device: &wgpu::Device,
        limits: &wgpu::Limits,
        x: &wgpu::Buffer,
        options: GemvOptions<'_>,
        outputs: &[&wgpu::Buffer],
    ) -> Vec<PreparedGemv> {
        match self {
            Self::Stacked { weight, rows } => {
                let members = stacked_outputs(outputs, rows);
                vec![kernels.gemv[&weight.ty()]
                    .prepare_stacked(device, limits, weight, x, &members, options)]
            }
            Self::Apart(ws) => ws
                .iter()
                .zip(outputs)
                .map(|(w, y)| kernels.gemv[&w.ty()].prepare(device, limits, w, x, y, options))
                .collect(),
        }
    }

    /// The GEMMs of `n_tokens` writing member i's rows to `outputs[i]` (from `x`).
    pub(super) fn prepare_gemm(
        &self,
        kernels: &Kernels,
        device: &wgpu::Device,
        limits: &wgpu::Limits,
        x: &wgpu::Buffer,
        outputs: &[&wgpu::Buffer],
        n_tokens: u32,
    ) -> Vec<PreparedGemm> {
        match self {
            Self::Stacked { weight, rows } => {
                let members = stacked_outputs(outputs, rows);
                vec![kernels.gemm[&weight.ty()]
                    .prepare_stacked(device, limits, weight, x, &members, n_tokens, false)]
            }
            Self::Apart(ws) => ws
                .iter()
                .zip(outputs)
                .map(|(w, y)| {
                    kernels.gemm[&w.ty()].prepare(device, limits, w, x, y, n_tokens, false)
                })
                .collect(),
        }
    }
}

fn stacked_outputs<'a>(outputs: &[&'a wgpu::Buffer], rows: &[u32]) -> StackedOutputs<'a> {
    let members: Vec<_> = outputs.iter().copied().zip(rows.iter().copied()).collect();
    StackedOutputs::new(&members)
}

/// One member as the plan names it.
pub struct Member {
    pub name: String,
    pub ty: GgmlType,
    pub rows: u32,
    pub cols: u32,
}

/// A stack as the loader fills it: its members' shapes as the plan names them, then, once all
/// are named, its tensor(s).
pub struct Stack {
    members: Vec<Option<Member>>,
    made: Option<Projections>,
}

impl Stack {
    pub fn new(members: usize) -> Self {
        Self {
            members: (0..members).map(|_| None).collect(),
            made: None,
        }
    }

    /// Names member `index`; the last one named makes the tensor(s), stored as `layout`'s
    /// kernels read them (`encoding_of`) in parts of at most `part_limit` bytes.
    pub fn name_member(
        &mut self,
        device: &wgpu::Device,
        part_limit: u64,
        index: usize,
        member: Member,
        encoding_of: impl Fn(GgmlType) -> WeightEncoding,
    ) -> Result<(), EngineError> {
        self.members[index] = Some(member);
        let Some(members) = self
            .members
            .iter()
            .map(Option::as_ref)
            .collect::<Option<Vec<_>>>()
        else {
            return Ok(());
        };
        let first = members[0];
        // Each member is whole quads of rows (row quads) and whole words (buffers).
        let stackable = members
            .iter()
            .all(|m| m.ty == first.ty && m.cols == first.cols && m.rows.is_multiple_of(STACK_ROWS));
        let make = |name: &str, rows: u32, m: &Member| {
            GpuWeight::encoded(
                device,
                part_limit,
                name,
                m.ty,
                encoding_of(m.ty),
                rows,
                m.cols,
            )
        };
        let total = members
            .iter()
            .try_fold(0u32, |sum, m| sum.checked_add(m.rows));
        self.made = Some(if let (true, Some(total)) = (stackable, total) {
            let rows: Vec<u32> = members.iter().map(|m| m.rows).collect();
            let name = members
                .iter()
                .map(|m| m.name.as_str())
                .collect::<Vec<_>>()
                .join("+");
            let weight = GpuWeight::stacked(
                device,
                part_limit,
                &name,
                first.ty,
                encoding_of(first.ty),
                &rows,
                first.cols,
            )?;
            debug_assert_eq!(weight.rows(), total);
            Projections::Stacked { weight, rows }
        } else {
            Projections::Apart(
                members
                    .iter()
                    .map(|m| make(&m.name, m.rows, m))
                    .collect::<Result<_, _>>()?,
            )
        });
        Ok(())
    }

    /// Writes `piece` at byte `offset` of member `index`'s GGUF bytes.
    pub fn write(
        &mut self,
        queue: &wgpu::Queue,
        index: usize,
        offset: u64,
        piece: &[u8],
    ) -> Result<(), EngineError> {
        match &mut self.made {
            Some(Projections::Stacked { weight, rows }) => {
                let first_row: u32 = rows[..index].iter().sum();
                let start = u64::from(first_row) * weight.row_bytes();
                Ok(weight.write_bytes(queue, start + offset, piece)?)
            }
            Some(Projections::Apart(ws)) => Ok(ws[index].write_bytes(queue, offset, piece)?),
            None => Err(ModelError::Incomplete(
                "a stacked tensor's bytes arrived before all its members were planned".into(),
            )
            .into()),
        }
    }

    /// The made tensor(s), once every member was named.
    pub fn finish(self) -> Option<Projections> {
        self.made
    }
}
