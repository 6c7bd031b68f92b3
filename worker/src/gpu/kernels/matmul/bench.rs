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
use crate::gpu::kernels::grid::dispatch_spread;
use crate::gpu::kernels::params::{bind_buffers, compute_pipeline};
use crate::gpu::{max_part_bytes, GpuContext, GpuWeight, PartStorage, WeightEncoding, WeightError};
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

/// Times a `rows × cols` GEMV of `ty` and a copy of the same weight buffers: `repeats` per
/// submit (at least one per copy of the weight), the fastest of a few submits after a warm-up.
/// The weight is held in as many copies as it takes to fill `working_set` bytes, and the
/// repeats cycle through them, so that on a GPU whose cache holds one matrix (an H100's L2 is
/// 50 MB) the figure is the device memory's, as in decode, where every weight is read once per
/// token. The weights are pseudo-random blocks: speed does not depend on their values.
pub fn measure_gemv(
    ctx: &GpuContext,
    ty: GgmlType,
    layout: MatmulLayout,
    rows: u32,
    cols: u32,
    repeats: usize,
    working_set: u64,
) -> Result<GemvThroughput, BenchError> {
    let device = &ctx.device;
    let bytes = bench_weight_bytes(ty, rows as usize, cols as usize);
    let copies = working_set.div_ceil(bytes.len().max(1) as u64).max(1) as usize;
    let weights = (0..copies)
        .map(|_| -> Result<GpuWeight, BenchError> {
            let mut w = GpuWeight::encoded(
                device,
                max_part_bytes(&ctx.limits),
                "bench weight",
                ty,
                WeightEncoding::for_weights(ty, layout),
                rows,
                cols,
            )?;
            w.write_bytes(&ctx.queue, 0, &bytes)?;
            Ok(w)
        })
        .collect::<Result<Vec<_>, _>>()?;
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
    let kernel = Gemv::new(ctx, ty, layout)?;
    let gemvs: Vec<_> = weights
        .iter()
        .map(|w| kernel.prepare(device, &ctx.limits, w, &x, &y, GemvOptions::default()))
        .collect();
    let repeats = repeats.max(copies);
    let gemv_seconds = time_per_repeat(ctx, repeats, |encoder, i| {
        let mut pass = encoder.begin_compute_pass(&Default::default());
        gemvs[i % copies].encode(&mut pass);
    })?;

    let largest = weights[0]
        .parts()
        .iter()
        .map(|p| p.allocated_bytes().next_multiple_of(4))
        .max()
        .unwrap_or(4);
    let copy_dst = device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("bench copy"),
        size: largest,
        usage: wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });
    // Row quads live in textures: their copy goes to a texture as large as the first part (a
    // tensor's parts are all buffers or all textures, and none is larger than the first).
    let texture_dst = match &weights[0].parts()[0].storage {
        PartStorage::RowQuads { texture, .. } => {
            Some(device.create_texture(&wgpu::TextureDescriptor {
                label: Some("bench copy"),
                size: texture.size(),
                mip_level_count: 1,
                sample_count: 1,
                dimension: wgpu::TextureDimension::D2,
                format: texture.format(),
                usage: wgpu::TextureUsages::COPY_DST,
                view_formats: &[],
            }))
        }
        PartStorage::Buffer(_) => None,
    };
    let copy_seconds = time_per_repeat(ctx, repeats, |encoder, i| {
        for part in weights[i % copies].parts() {
            match (&part.storage, &texture_dst) {
                (PartStorage::Buffer(buffer), _) => {
                    encoder.copy_buffer_to_buffer(buffer, 0, &copy_dst, 0, buffer.size())
                }
                (PartStorage::RowQuads { texture, .. }, Some(dst)) => encoder
                    .copy_texture_to_texture(
                        texture.as_image_copy(),
                        dst.as_image_copy(),
                        texture.size(),
                    ),
                (PartStorage::RowQuads { .. }, None) => {} // the first part is a texture then
            }
        }
    })?;
    Ok(GemvThroughput {
        ty,
        rows,
        cols,
        weight_bytes: weights[0].total_bytes(),
        gemv_seconds,
        copy_bytes: weights[0].allocated_bytes(),
        copy_seconds,
    })
}

/// Bytes per second the memory_read.wgsl probe reads from a buffer of `bytes` (clamped to the
/// adapter's largest storage binding): the rate a kernel that reads each byte once can reach,
/// against which a decode step's weight reads are a fraction of the roofline. (On some GPUs a
/// buffer copy runs on a copy engine that is slower than the shader cores' own reads: an
/// H200's `copy_buffer_to_buffer` moved 0.8 TB/s.)
pub fn measure_read(ctx: &GpuContext, bytes: u64, repeats: usize) -> Result<f64, BenchError> {
    let (size, seconds) = time_read(ctx, bytes, repeats, false)?;
    Ok(size as f64 / seconds)
}

/// Seconds per dispatch of the memory_read.wgsl probe over one workgroup's 64 KiB, `repeats`
/// dispatches back to back, each in a pass of its own and all in one pass: the fixed cost of a
/// kernel on the adapter, which a decode step (one pass) pays once per dispatch.
pub fn measure_dispatch(ctx: &GpuContext, repeats: usize) -> Result<(f64, f64), BenchError> {
    let own_pass = time_read(ctx, 0, repeats, false)?.1;
    let one_pass = time_read(ctx, 0, repeats, true)?.1;
    Ok((own_pass, one_pass))
}

/// The memory_read.wgsl probe over `bytes` (rounded to whole workgroups, at least one), each
/// dispatch in a pass of its own or all in one: (bytes read, seconds per dispatch).
fn time_read(
    ctx: &GpuContext,
    bytes: u64,
    repeats: usize,
    one_pass: bool,
) -> Result<(u64, f64), BenchError> {
    const PER_WORKGROUP: u64 = 256 * 16 * 16;
    let size = bytes
        .min(ctx.limits.max_buffer_size)
        .min(ctx.limits.max_storage_buffer_binding_size)
        & !(PER_WORKGROUP - 1);
    let size = size.max(PER_WORKGROUP);
    let device = &ctx.device;
    let src = device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("bench read source"),
        size,
        usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });
    let groups = (size / PER_WORKGROUP) as u32;
    let sink = device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("bench read sink"),
        size: u64::from(groups) * 4,
        usage: wgpu::BufferUsages::STORAGE,
        mapped_at_creation: false,
    });
    let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
        label: Some("memory read"),
        source: wgpu::ShaderSource::Wgsl(include_str!("memory_read.wgsl").into()),
    });
    let pipeline = compute_pipeline(device, &module, "memory read", "main");
    let bind_group = bind_buffers(device, &pipeline, "memory read", &[&src, &sink]);
    touch(ctx, &src);
    let max_per_dim = ctx.limits.max_compute_workgroups_per_dimension;
    let seconds = if one_pass {
        let repeats = repeats.max(1);
        let seconds = time_per_repeat(ctx, 1, |encoder, _| {
            let mut pass = encoder.begin_compute_pass(&Default::default());
            for _ in 0..repeats {
                dispatch_spread(&mut pass, &pipeline, &bind_group, groups, max_per_dim);
            }
        })?;
        seconds / repeats as f64
    } else {
        // One pass per repeat, as the GEMV measurement records them.
        time_per_repeat(ctx, repeats, |encoder, _| {
            let mut pass = encoder.begin_compute_pass(&Default::default());
            dispatch_spread(&mut pass, &pipeline, &bind_group, groups, max_per_dim);
        })?
    };
    Ok((size, seconds))
}

/// Device memory traffic of a large buffer copy, bytes read plus bytes written per second,
/// beside [`measure_read`] (on some GPUs a copy engine slower than the shader cores runs it).
/// `bytes` is clamped to the adapter's largest buffer.
pub fn measure_copy(ctx: &GpuContext, bytes: u64, repeats: usize) -> Result<f64, BenchError> {
    let size = bytes.min(ctx.limits.max_buffer_size) & !3;
    let buffer = |label: &str, usage: wgpu::BufferUsages| {
        ctx.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(label),
            size,
            usage,
            mapped_at_creation: false,
        })
    };
    let src = buffer(
        "bench copy source",
        wgpu::BufferUsages::COPY_SRC | wgpu::BufferUsages::COPY_DST,
    );
    let dst = buffer("bench copy target", wgpu::BufferUsages::COPY_DST);
    touch(ctx, &src);
    let seconds = time_per_repeat(ctx, repeats, |encoder, _| {
        encoder.copy_buffer_to_buffer(&src, 0, &dst, 0, size);
    })?;
    Ok(2.0 * size as f64 / seconds)
}

/// Clears a measured source buffer before it is timed: a never-written buffer may be backed
/// by nothing yet.
fn touch(ctx: &GpuContext, buffer: &wgpu::Buffer) {
    let mut encoder = ctx.device.create_command_encoder(&Default::default());
    encoder.clear_buffer(buffer, 0, None);
    ctx.queue.submit([encoder.finish()]);
}

/// Seconds per `record` call (given its index): `repeats` of them in one submit, waited for; one untimed submit
/// first (pipeline set-up, first touch of the buffers), then the fastest of [`TRIALS`].
pub(crate) fn time_per_repeat(
    ctx: &GpuContext,
    repeats: usize,
    record: impl Fn(&mut wgpu::CommandEncoder, usize),
) -> Result<f64, BenchError> {
    let repeats = repeats.max(1);
    let run = || -> Result<(), BenchError> {
        let mut encoder = ctx.device.create_command_encoder(&Default::default());
        for i in 0..repeats {
            record(&mut encoder, i);
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
            3 * 64 * 420,
        )
        .unwrap();
        assert_eq!(m.weight_bytes, 64 * 420);
        assert!(m.copy_bytes >= m.weight_bytes);
        assert!(m.gemv_seconds > 0.0 && m.copy_seconds > 0.0);
        assert!(m.ratio().is_finite());
    }

    #[test]
    fn measures_a_copy_and_a_read() {
        let traffic = measure_copy(gpu(), 1 << 20, 2).unwrap();
        assert!(traffic.is_finite() && traffic > 0.0);
        let read = measure_read(gpu(), 1 << 20, 2).unwrap();
        assert!(read.is_finite() && read > 0.0);
        let (own_pass, one_pass) = measure_dispatch(gpu(), 2).unwrap();
        assert!(own_pass.is_finite() && own_pass > 0.0);
        assert!(one_pass.is_finite() && one_pass > 0.0);
    }
}
