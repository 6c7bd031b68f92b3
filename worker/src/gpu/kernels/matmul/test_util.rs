//! Shared helpers for the weight-kernel tests: random weights of every type, uploads through the
//! streaming path, buffers and tolerances.

use super::MatmulLayout;
use crate::gguf::GgmlType;
use crate::gpu::test_support::gpu;
use crate::gpu::{read_buffer, GpuWeight, WeightEncoding};
use crate::quant::{f32_to_f16, quantize};
use rand::{Rng, SeedableRng};
use wgpu::util::DeviceExt;

pub fn random_f32(len: usize, seed: u64) -> Vec<f32> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    (0..len).map(|_| rng.random_range(-1.0..1.0)).collect()
}

/// GGUF bytes of a random `rows × cols` tensor. Types our CPU code can quantize are quantized
/// from random floats; the others are random blocks with sane f16 scales.
pub fn random_weight(ty: GgmlType, rows: usize, cols: usize, seed: u64) -> Vec<u8> {
    if let Ok(bytes) = quantize(ty, &random_f32(rows * cols, seed)) {
        return bytes;
    }
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let block = ty.bytes_per_block() as usize;
    let n = ty.row_bytes(cols as u64).unwrap() as usize * rows;
    let mut bytes: Vec<u8> = (0..n).map(|_| rng.random()).collect();
    // Q4_0: d; Q4_1: d, m; Q4_K / Q5_K: d, dmin — the f16 fields at the start of each block.
    let f16_fields = match ty {
        GgmlType::Q4_0 => 1,
        _ => 2,
    };
    for b in bytes.chunks_exact_mut(block) {
        for f in 0..f16_fields {
            let v = f32_to_f16(rng.random_range(-0.05..0.05));
            b[2 * f..2 * f + 2].copy_from_slice(&v.to_le_bytes());
        }
    }
    bytes
}

/// GGUF bytes of each member of a stack (`rows` each, `cols` wide), for the stacked-matrix
/// tests; the stack's own bytes are their concatenation.
pub fn random_members(ty: GgmlType, rows: &[u32], cols: usize, seed: u64) -> Vec<Vec<u8>> {
    rows.iter()
        .enumerate()
        .map(|(i, &r)| random_weight(ty, r as usize, cols, seed + i as u64))
        .collect()
}

/// Zeroed output buffers of `len(rows)` floats each.
pub fn member_outputs(rows: &[u32], per_row: usize) -> Vec<wgpu::Buffer> {
    rows.iter()
        .map(|&r| output_buffer(r as usize * per_row))
        .collect()
}

/// Uploads through the streaming path in uneven chunks (odd sizes, so writes end unaligned),
/// stored as the kernels of `layout` read `ty`.
pub fn upload(
    ty: GgmlType,
    layout: MatmulLayout,
    rows: u32,
    cols: u32,
    bytes: &[u8],
    max_part: u64,
) -> GpuWeight {
    let gpu = gpu();
    let encoding = WeightEncoding::for_weights(ty, layout);
    let mut w = GpuWeight::encoded(
        &gpu.device,
        max_part,
        "test weight",
        ty,
        encoding,
        rows,
        cols,
    )
    .unwrap();
    let mut offset = 0;
    for chunk in bytes.chunks(4093) {
        w.write_bytes(&gpu.queue, offset as u64, chunk).unwrap();
        offset += chunk.len();
    }
    assert_eq!(w.bytes_written(), bytes.len() as u64);
    w
}

pub fn storage_f32(data: &[f32]) -> wgpu::Buffer {
    gpu()
        .device
        .create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: None,
            contents: bytemuck::cast_slice(data),
            usage: wgpu::BufferUsages::STORAGE
                | wgpu::BufferUsages::COPY_SRC
                | wgpu::BufferUsages::COPY_DST,
        })
}

pub fn storage_u32(data: &[u32]) -> wgpu::Buffer {
    gpu()
        .device
        .create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: None,
            contents: bytemuck::cast_slice(data),
            usage: wgpu::BufferUsages::STORAGE
                | wgpu::BufferUsages::COPY_SRC
                | wgpu::BufferUsages::COPY_DST,
        })
}

pub fn output_buffer(len: usize) -> wgpu::Buffer {
    storage_f32(&vec![0.0; len])
}

pub fn read_f32(buffer: &wgpu::Buffer, len: usize) -> Vec<f32> {
    let bytes = pollster::block_on(read_buffer(gpu(), buffer, (len * 4) as u64)).unwrap();
    bytemuck::cast_slice(&bytes).to_vec()
}

pub fn limits_with(max_per_dim: u32) -> wgpu::Limits {
    wgpu::Limits {
        max_compute_workgroups_per_dimension: max_per_dim,
        ..gpu().limits.clone()
    }
}

/// Relative tolerance of a dot product against Σ|wᵢ·xᵢ|: both sides accumulate in f32 in
/// different orders, an error of about √n·2⁻²⁴ of that sum.
pub const DOT_TOLERANCE: f32 = 1e-5;

/// Asserts each `got[i]` is within `DOT_TOLERANCE × scale[i]` of `want[i]`.
pub fn assert_dots_close(what: &str, got: &[f32], want: &[f32], scale: &[f32]) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, ((g, w), s)) in got.iter().zip(want).zip(scale).enumerate() {
        assert!(
            (g - w).abs() <= DOT_TOLERANCE * s + 1e-30,
            "{what}: output {i}: gpu {g}, cpu {w}, Σ|w·x| {s}"
        );
    }
}

/// Σ_k |W[r, k]·x[k]| for each row, the scale of each dot product's rounding error.
pub fn abs_dots(ty: GgmlType, w: &[u8], cols: usize, x: &[f32]) -> Vec<f32> {
    let w = crate::quant::dequantize_to_vec(ty, w).unwrap();
    w.chunks_exact(cols)
        .map(|row| row.iter().zip(x).map(|(a, b)| (a * b).abs()).sum())
        .collect()
}
