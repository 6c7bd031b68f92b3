//! How fast the GEMV reads its weights, relative to a plain buffer copy on the same adapter.
//!
//! Decode is bound by reading every weight once per token, so the useful figure is the GEMV's
//! weight bytes per second divided by what the adapter moves in a `copy_buffer_to_buffer`
//! (copy bytes counted once). Absolute numbers on a software adapter (lavapipe, SwiftShader)
//! say nothing about a GPU; the ratio says how close the kernel gets to the memory system.
//!
//! Native only: it times with `Instant` and waits with a blocking device poll.

use super::{Gemv, GemvOptions, KernelError, MatmulLayout};
use crate::gguf::GgmlType;
use crate::gpu::{max_part_bytes, GpuContext, GpuWeight, WeightEncoding, WeightError};
use crate::quant::{f32_to_bf16, f32_to_f16};
use std::time::Instant;
use wgpu::util::DeviceExt;

/// Timed batches per measurement; the fastest counts (the machine may be busy with other work).
const TRIALS: usize = 3;

#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error(transparent)]
    Weight(#[from] WeightError),
    #[error(transparent)]
    Kernel(#[from] KernelError),
    #[error("waiting for the GPU failed: {0}")]
    Poll(String),
}

/// One GEMV shape measured against a buffer copy.
#[derive(Debug, Clone, PartialEq)]
pub struct GemvThroughput {
    pub ty: GgmlType,
    pub rows: u32,
    pub cols: u32,
    /// The weight's GGUF bytes: what one GEMV must read.
    pub weight_bytes: u64,
    /// Seconds per GEMV.
    pub gemv_seconds: f64,
    /// Bytes one copy moves (the weight's buffers, padding included).
    pub copy_bytes: u64,
    /// Seconds per copy of those bytes.
    pub copy_seconds: f64,
}

impl GemvThroughput {
    /// Weight bytes the GEMV reads per second.
    pub fn gemv_bytes_per_s(&self) -> f64 {
        self.weight_bytes as f64 / self.gemv_seconds
    }

    /// Bytes a buffer copy moves per second, each byte counted once.
    pub fn copy_bytes_per_s(&self) -> f64 {
        self.copy_bytes as f64 / self.copy_seconds
    }

    /// GEMV bytes/s ÷ copy bytes/s.
    pub fn ratio(&self) -> f64 {
        self.gemv_bytes_per_s() / self.copy_bytes_per_s()
    }
}

/// Times a `rows × cols` GEMV of `ty` (`repeats` per submit, the fastest of a few submits after
/// a warm-up) and a copy of the same weight buffers. The weights are pseudo-random blocks:
/// speed does not depend on their values.
pub fn measure_gemv(
    ctx: &GpuContext,
    ty: GgmlType,
    layout: MatmulLayout,
    rows: u32,
    cols: u32,
    repeats: usize,
) -> Result<GemvThroughput, BenchError> {
    let device = &ctx.device;
    let mut w = GpuWeight::encoded(
        device,
        max_part_bytes(&ctx.limits),
        "bench weight",
        ty,
        WeightEncoding::for_weights(ty, layout),
        rows,
        cols,
    )?;
    let bytes = bench_weight_bytes(ty, rows as usize, cols as usize);
    w.write_bytes(&ctx.queue, 0, &bytes)?;
    let storage = |label: &str, contents: &[u8]| {
        device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some(label),
            contents,
            usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST,
        })
    };
    let x: Vec<f32> = (0..cols).map(|i| ((i % 17) as f32 - 8.0) / 8.0).collect();
    let x = storage("bench x", bytemuck::cast_slice(&x));
    let y = storage("bench y", &vec![0u8; rows as usize * 4]);
    let gemv = Gemv::new(device, ty, layout)?.prepare(
        device,
        &ctx.limits,
        &w,
        &x,
        &y,
        GemvOptions::default(),
    );
    let gemv_seconds = time_per_repeat(ctx, repeats, |encoder| {
        let mut pass = encoder.begin_compute_pass(&Default::default());
        gemv.encode(&mut pass);
    })?;

    let largest = w.parts().iter().map(|p| p.buffer.size()).max().unwrap_or(4);
    let copy_dst = device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("bench copy"),
        size: largest,
        usage: wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });
    let copy_seconds = time_per_repeat(ctx, repeats, |encoder| {
        for part in w.parts() {
            encoder.copy_buffer_to_buffer(&part.buffer, 0, &copy_dst, 0, part.buffer.size());
        }
    })?;
    Ok(GemvThroughput {
        ty,
        rows,
        cols,
        weight_bytes: w.total_bytes(),
        gemv_seconds,
        copy_bytes: w.allocated_bytes(),
        copy_seconds,
    })
}

/// Seconds per `record` call: `repeats` of them in one submit, waited for; one untimed submit
/// first (pipeline set-up, first touch of the buffers), then the fastest of [`TRIALS`].
fn time_per_repeat(
    ctx: &GpuContext,
    repeats: usize,
    record: impl Fn(&mut wgpu::CommandEncoder),
) -> Result<f64, BenchError> {
    let repeats = repeats.max(1);
    let run = || -> Result<(), BenchError> {
        let mut encoder = ctx.device.create_command_encoder(&Default::default());
        for _ in 0..repeats {
            record(&mut encoder);
        }
        ctx.queue.submit([encoder.finish()]);
        ctx.device
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(|e| BenchError::Poll(e.to_string()))?;
        Ok(())
    };
    run()?;
    let mut best = f64::INFINITY;
    for _ in 0..TRIALS {
        let start = Instant::now();
        run()?;
        best = best.min(start.elapsed().as_secs_f64());
    }
    Ok(best / repeats as f64)
}

/// GGUF bytes of a `rows × cols` tensor of `ty` with pseudo-random contents: float types hold
/// values in ±1, block types random bytes with their f16 scale fields set to small normal
/// values (random bits there could be NaN or subnormal). Quantizing real floats would take
/// seconds per matrix for Q6_K and measure nothing more.
pub fn bench_weight_bytes(ty: GgmlType, rows: usize, cols: usize) -> Vec<u8> {
    let mut state = 0x9E37_79B9_7F4A_7C15u64 ^ ty.id() as u64;
    let mut next = move || {
        // xorshift64*
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        state.wrapping_mul(0x2545_F491_4F6C_DD1D)
    };
    let n = rows * cols;
    let mut unit = || (next() >> 40) as f32 / (1u64 << 23) as f32 - 1.0;
    match ty {
        GgmlType::F32 => return (0..n).flat_map(|_| unit().to_le_bytes()).collect(),
        GgmlType::F16 => {
            return (0..n)
                .flat_map(|_| f32_to_f16(unit()).to_le_bytes())
                .collect()
        }
        GgmlType::Bf16 => {
            return (0..n)
                .flat_map(|_| f32_to_bf16(unit()).to_le_bytes())
                .collect()
        }
        _ => {}
    }
    // Byte offsets of each block's f16 scale fields (d, and dmin or m where the type has one).
    let f16_fields: &[usize] = match ty {
        GgmlType::Q6K => &[208],
        GgmlType::Q8_0 | GgmlType::Q4_0 => &[0],
        _ => &[0, 2],
    };
    let block = ty.bytes_per_block() as usize;
    let len = ty.row_bytes(cols as u64).map_or(0, |b| b as usize) * rows;
    let mut bytes: Vec<u8> = (0..len).map(|_| (next() >> 56) as u8).collect();
    let scale = f32_to_f16(0.01).to_le_bytes();
    for b in bytes.chunks_exact_mut(block) {
        for &f in f16_fields {
            b[f..f + 2].copy_from_slice(&scale);
        }
    }
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gpu::test_support::gpu;
    use crate::gpu::GPU_WEIGHT_TYPES;
    use crate::quant::dequantize_to_vec;

    #[test]
    fn bench_weights_are_finite_and_sized_like_gguf() {
        for ty in GPU_WEIGHT_TYPES {
            let bytes = bench_weight_bytes(ty, 3, 512);
            assert_eq!(bytes.len() as u64, 3 * ty.row_bytes(512).unwrap(), "{ty}");
            let w = dequantize_to_vec(ty, &bytes).unwrap();
            assert!(w.iter().all(|x| x.is_finite()), "{ty}");
            assert!(w.iter().any(|&x| x != 0.0), "{ty}");
        }
    }

    /// Only that it runs and reports consistent sizes: timings are not asserted.
    #[test]
    fn measures_a_small_gemv() {
        let m = measure_gemv(
            gpu(),
            GgmlType::Q6K,
            MatmulLayout::RowPerInvocation,
            64,
            512,
            2,
        )
        .unwrap();
        assert_eq!(m.weight_bytes, 64 * 420);
        assert!(m.copy_bytes >= m.weight_bytes);
        assert!(m.gemv_seconds > 0.0 && m.copy_seconds > 0.0);
        assert!(m.ratio().is_finite());
    }
}
