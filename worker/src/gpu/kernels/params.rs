//! Uniform parameters shared by the transformer kernels (rms_norm, rope, attention, swiglu,
//! the KV-cache write).
//!
//! Each kernel has two uniforms: its *shape* (dimensions, eps, ...; fixed for the model, built
//! once in `prepare`) and the *step* ([`StepUniform`]: how many tokens this step runs and at
//! which position the first one sits). The engine owns one `StepUniform`, binds it into every
//! prepared kernel, and rewrites its 16 bytes once per step with `queue.write_buffer` before
//! recording the step's single compute pass. All prepared bind groups are then reused as is.
//!
//! `queue.write_buffer` takes effect at the next `submit`, so every dispatch of one submit sees
//! the same step: record one step per command buffer.

use wgpu::util::DeviceExt;

/// What changes from one step (prefill batch or decode token) to the next.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct StepParams {
    /// Tokens in this step's batch (1 for decode).
    pub n_tokens: u32,
    /// Position of the batch's first token (the number of tokens already in the KV cache).
    pub start_pos: u32,
    /// How many ways the decode attention splits the positions (see `attention::SplitRule`),
    /// which the attention reads here; 0, as in `StepParams::default()`, reads as 1.
    pub splits: u32,
    pub _pad: u32,
}

impl StepParams {
    /// A step whose attention (if any) is not split.
    pub fn new(n_tokens: u32, start_pos: u32) -> Self {
        Self {
            n_tokens,
            start_pos,
            splits: 1,
            _pad: 0,
        }
    }

    /// The step with its attention split `splits` ways.
    pub fn with_splits(self, splits: u32) -> Self {
        Self { splits, ..self }
    }
}

/// The step uniform buffer (`UNIFORM | COPY_DST`, 16 bytes), bound by every prepared kernel.
pub struct StepUniform {
    buffer: wgpu::Buffer,
}

impl StepUniform {
    pub fn new(device: &wgpu::Device) -> Self {
        Self::with(device, StepParams::default())
    }

    pub fn with(device: &wgpu::Device, step: StepParams) -> Self {
        let buffer = device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some("step params"),
            contents: bytemuck::bytes_of(&step),
            usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
        });
        Self { buffer }
    }

    /// Sets the step for the next submit.
    pub fn write(&self, queue: &wgpu::Queue, step: StepParams) {
        queue.write_buffer(&self.buffer, 0, bytemuck::bytes_of(&step));
    }

    pub fn buffer(&self) -> &wgpu::Buffer {
        &self.buffer
    }
}

/// A read-only uniform buffer holding `value` (a kernel's shape parameters).
pub(crate) fn shape_uniform<T: bytemuck::Pod>(
    device: &wgpu::Device,
    label: &str,
    value: &T,
) -> wgpu::Buffer {
    debug_assert_eq!(
        std::mem::size_of::<T>() % 16,
        0,
        "uniforms are 16-byte multiples"
    );
    uniform_buffer(device, label, bytemuck::bytes_of(value))
}

/// A uniform buffer (`UNIFORM | COPY_DST`) initialised with `contents`.
pub(crate) fn uniform_buffer(device: &wgpu::Device, label: &str, contents: &[u8]) -> wgpu::Buffer {
    device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
        label: Some(label),
        contents,
        usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
    })
}

/// A compute pipeline with the layout derived from the shader (bind group 0).
pub(crate) fn compute_pipeline(
    device: &wgpu::Device,
    module: &wgpu::ShaderModule,
    label: &str,
    entry_point: &str,
) -> wgpu::ComputePipeline {
    compute_pipeline_with(device, module, label, entry_point, &[])
}

/// [`compute_pipeline`] with values for the shader's `override` constants.
pub(crate) fn compute_pipeline_with(
    device: &wgpu::Device,
    module: &wgpu::ShaderModule,
    label: &str,
    entry_point: &str,
    constants: &[(&str, f64)],
) -> wgpu::ComputePipeline {
    device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
        label: Some(label),
        layout: None,
        module,
        entry_point: Some(entry_point),
        compilation_options: wgpu::PipelineCompilationOptions {
            constants,
            ..Default::default()
        },
        cache: None,
    })
}

/// A uniform buffer of u32 values (tests).
#[cfg(test)]
pub(crate) fn params_buffer_for_tests(device: &wgpu::Device, values: &[u32]) -> wgpu::Buffer {
    uniform_buffer(device, "test params", bytemuck::cast_slice(values))
}

/// A compute pipeline for a kernel reading a weight part in row quads (`matmul/row_quads.wgsl`):
/// binding 0 the part's `rgba32float` texture, 1 a read-only and 2 a read-write storage buffer,
/// 3 the parameters, 4 a non-filtering sampler, and with `outputs` > 1 more read-write storage
/// buffers from binding 5 (a matrix product's other outputs). The layout is spelled out because
/// one derived from the shader would ask for a filterable texture, which `rgba32float` is not.
pub(crate) fn row_quad_pipeline(
    device: &wgpu::Device,
    module: &wgpu::ShaderModule,
    label: &str,
    outputs: u32,
) -> wgpu::ComputePipeline {
    let entry = |binding, ty| wgpu::BindGroupLayoutEntry {
        binding,
        visibility: wgpu::ShaderStages::COMPUTE,
        ty,
        count: None,
    };
    let storage = |read_only| wgpu::BindingType::Buffer {
        ty: wgpu::BufferBindingType::Storage { read_only },
        has_dynamic_offset: false,
        min_binding_size: None,
    };
    let mut entries = vec![
        entry(
            0,
            wgpu::BindingType::Texture {
                sample_type: wgpu::TextureSampleType::Float { filterable: false },
                view_dimension: wgpu::TextureViewDimension::D2,
                multisampled: false,
            },
        ),
        entry(1, storage(true)),
        entry(2, storage(false)),
        entry(
            3,
            wgpu::BindingType::Buffer {
                ty: wgpu::BufferBindingType::Uniform,
                has_dynamic_offset: false,
                min_binding_size: None,
            },
        ),
        entry(
            4,
            wgpu::BindingType::Sampler(wgpu::SamplerBindingType::NonFiltering),
        ),
    ];
    entries.extend((1..outputs).map(|i| entry(4 + i, storage(false))));
    let bind_group_layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
        label: Some(label),
        entries: &entries,
    });
    let layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
        label: Some(label),
        bind_group_layouts: &[Some(&bind_group_layout)],
        immediate_size: 0,
    });
    device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
        label: Some(label),
        layout: Some(&layout),
        module,
        entry_point: Some("main"),
        compilation_options: Default::default(),
        cache: None,
    })
}

/// A bind group for `pipeline`'s group 0 with `buffers` bound, whole, at bindings 0, 1, 2, ...
pub(crate) fn bind_buffers(
    device: &wgpu::Device,
    pipeline: &wgpu::ComputePipeline,
    label: &str,
    buffers: &[&wgpu::Buffer],
) -> wgpu::BindGroup {
    let entries: Vec<wgpu::BindGroupEntry> = buffers
        .iter()
        .enumerate()
        .map(|(i, b)| wgpu::BindGroupEntry {
            binding: i as u32,
            resource: b.as_entire_binding(),
        })
        .collect();
    device.create_bind_group(&wgpu::BindGroupDescriptor {
        label: Some(label),
        layout: &pipeline.get_bind_group_layout(0),
        entries: &entries,
    })
}

/// `source` (the WGSL file `file`) with its one declaration `from` replaced by `to`: how a
/// kernel's constants are set per adapter where an `override` cannot serve (array sizes).
pub(crate) fn with_const(source: &str, file: &str, from: &str, to: &str) -> String {
    assert_eq!(source.matches(from).count(), 1, "{file}: {from}");
    source.replace(from, to)
}

/// One compute pass around `f`, for the one-shot `encode` helpers.
pub(crate) fn in_pass(
    encoder: &mut wgpu::CommandEncoder,
    label: &str,
    f: impl FnOnce(&mut wgpu::ComputePass<'_>),
) {
    let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
        label: Some(label),
        timestamp_writes: None,
    });
    f(&mut pass);
}

#[cfg(test)]
pub(crate) mod test_util {
    //! Buffers and readback for the kernel tests.
    use crate::gpu::{read_buffer, GpuContext};
    use rand::{Rng, SeedableRng};
    use wgpu::util::DeviceExt;

    pub fn storage(gpu: &GpuContext, data: &[f32]) -> wgpu::Buffer {
        // Zero-length buffers cannot be bound: keep at least one element.
        let data = if data.is_empty() { &[0.0][..] } else { data };
        gpu.device
            .create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: None,
                contents: bytemuck::cast_slice(data),
                usage: wgpu::BufferUsages::STORAGE
                    | wgpu::BufferUsages::COPY_SRC
                    | wgpu::BufferUsages::COPY_DST,
            })
    }

    pub fn read_f32(gpu: &GpuContext, buffer: &wgpu::Buffer, len: usize) -> Vec<f32> {
        let bytes = pollster::block_on(read_buffer(gpu, buffer, (len * 4) as u64)).unwrap();
        bytemuck::cast_slice(&bytes).to_vec()
    }

    pub fn random(len: usize, seed: u64, range: f32) -> Vec<f32> {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        (0..len).map(|_| rng.random_range(-range..range)).collect()
    }

    /// Largest `|a - b| / (1 + |b|)`, with `b` the reference.
    pub fn max_rel_err(a: &[f32], b: &[f64]) -> f64 {
        assert_eq!(a.len(), b.len());
        a.iter()
            .zip(b)
            .map(|(&x, &y)| (f64::from(x) - y).abs() / (1.0 + y.abs()))
            .fold(0.0, f64::max)
    }
}
