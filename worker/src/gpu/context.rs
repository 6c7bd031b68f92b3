//! Acquiring an adapter and a device with the adapter's real limits.

use hearth_protocol::AdapterSummary;

#[derive(Debug, thiserror::Error)]
pub enum GpuError {
    #[error("no WebGPU adapter is available ({0})")]
    NoAdapter(String),
    #[error("the GPU refused to create a device: {0}")]
    NoDevice(String),
    #[error("reading a result back from the GPU failed: {0}")]
    Readback(String),
}

/// A device and queue, with what we learned about the adapter behind them.
pub struct GpuContext {
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    pub info: wgpu::AdapterInfo,
    pub limits: wgpu::Limits,
    pub features: wgpu::Features,
}

/// Features the engine uses when present; f32 paths exist for all of them. Natively also
/// timestamp queries, for `cargo xtask bench` (`GpuModel::stamped_decode_step`).
#[cfg(target_arch = "wasm32")]
const OPTIONAL_FEATURES: wgpu::Features =
    wgpu::Features::SHADER_F16.union(wgpu::Features::SUBGROUP);
#[cfg(not(target_arch = "wasm32"))]
const OPTIONAL_FEATURES: wgpu::Features = wgpu::Features::SHADER_F16
    .union(wgpu::Features::SUBGROUP)
    .union(wgpu::Features::TIMESTAMP_QUERY);

impl GpuContext {
    /// Requests a high-performance adapter and a device with every limit the adapter offers
    /// (the defaults are far below what a 1B model needs: `maxStorageBufferBindingSize` is
    /// 128 MiB by default, SwiftShader and real GPUs give 1 GiB or more).
    pub async fn new() -> Result<Self, GpuError> {
        let instance = wgpu::Instance::new(wgpu::InstanceDescriptor {
            backends: preferred_backends(),
            ..wgpu::InstanceDescriptor::new_without_display_handle()
        });
        let adapter = instance
            .request_adapter(&wgpu::RequestAdapterOptions {
                power_preference: wgpu::PowerPreference::HighPerformance,
                ..Default::default()
            })
            .await
            .map_err(|e| GpuError::NoAdapter(e.to_string()))?;
        let info = adapter.get_info();
        let limits = adapter.limits();
        let features = adapter.features() & OPTIONAL_FEATURES;
        let (device, queue) = adapter
            .request_device(&wgpu::DeviceDescriptor {
                label: Some("hearth"),
                required_features: features,
                required_limits: limits.clone(),
                ..Default::default()
            })
            .await
            .map_err(|e| GpuError::NoDevice(e.to_string()))?;
        Ok(Self {
            device,
            queue,
            info,
            limits,
            features,
        })
    }

    /// Whether the adapter is a software rasterizer running on the CPU (SwiftShader in
    /// browsers, lavapipe natively), where kernels should avoid barriers and workgroup memory.
    pub fn is_software(&self) -> bool {
        let name = self.info.name.to_ascii_lowercase();
        self.info.device_type == wgpu::DeviceType::Cpu
            || ["swiftshader", "llvmpipe", "lavapipe"]
                .iter()
                .any(|n| name.contains(n))
    }

    /// Whether a team of 32 lanes (a GPU GEMV's row, `gemv_team.wgsl`) always lies within
    /// one subgroup, so that it can sum with subgroup shuffles instead of workgroup barriers:
    /// the adapter has subgroups of at least 32 (NVIDIA 32, AMD 32 or 64, Apple 32; Intel's and
    /// Mali's 8 or 16 do not qualify).
    ///
    /// Not in browsers: wgpu 30 keeps subgroups a native-only feature (its web backend does not
    /// ask for WebGPU's `subgroups`), and the WGSL would need `enable subgroups;` there, which
    /// naga refuses natively.
    pub fn subgroup_teams(&self) -> bool {
        !cfg!(target_arch = "wasm32")
            && self.features.contains(wgpu::Features::SUBGROUP)
            && self.info.subgroup_min_size >= 32
    }

    pub fn summary(&self) -> AdapterSummary {
        let name = match (self.info.name.trim(), self.info.device_type) {
            ("", wgpu::DeviceType::Cpu) => "a software (CPU) adapter".to_string(),
            // Browsers may hide the adapter's description for privacy.
            ("", _) => "the browser's GPU adapter".to_string(),
            (name, _) => name.to_string(),
        };
        AdapterSummary {
            name,
            backend: format!("{:?}", self.info.backend),
            max_buffer_size: self.limits.max_buffer_size,
            max_storage_binding: self.limits.max_storage_buffer_binding_size,
            shader_f16: self.features.contains(wgpu::Features::SHADER_F16),
            subgroups: self.features.contains(wgpu::Features::SUBGROUP),
        }
    }
}

#[cfg(target_arch = "wasm32")]
fn preferred_backends() -> wgpu::Backends {
    wgpu::Backends::BROWSER_WEBGPU
}

#[cfg(not(target_arch = "wasm32"))]
fn preferred_backends() -> wgpu::Backends {
    wgpu::Backends::VULKAN
}
