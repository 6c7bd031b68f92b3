//! The model's tensors on the GPU: quantized matrices as [`GpuWeight`]s (split by rows where a
//! binding is too small), norms and RoPE factors as plain f32 storage buffers.

use super::projections::Projections;
use crate::gpu::GpuWeight;

/// One transformer block's tensors.
pub struct LayerWeights {
    pub attn_norm: wgpu::Buffer,
    /// q, k and v (stacked where they can be: see `projections.rs`).
    pub qkv: Projections,
    pub wo: GpuWeight,
    pub ffn_norm: wgpu::Buffer,
    /// gate and up.
    pub gate_up: Projections,
    pub down: GpuWeight,
}

/// Every tensor of a Llama model on the GPU.
pub struct ModelWeights {
    pub token_embd: GpuWeight,
    /// `output.weight`; `None` for tied embeddings (the output projection uses `token_embd`).
    pub output: Option<GpuWeight>,
    pub output_norm: wgpu::Buffer,
    pub rope_freqs: Option<wgpu::Buffer>,
    pub layers: Vec<LayerWeights>,
}

impl ModelWeights {
    /// The output projection's matrix (rows = vocabulary).
    pub fn output(&self) -> &GpuWeight {
        self.output.as_ref().unwrap_or(&self.token_embd)
    }

    /// GPU memory holding weights: every matrix's buffers (padding included), the norms and
    /// the RoPE factors. The budget is 1.05 × the GGUF tensor bytes on GPUs (software
    /// adapters store Q8_0 and Q6_K re-encoded: 36/34 and 320/210 of their bytes).
    pub fn gpu_bytes(&self) -> u64 {
        let vectors = std::iter::once(&self.output_norm)
            .chain(self.rope_freqs.as_ref())
            .chain(self.layers.iter().flat_map(|l| [&l.attn_norm, &l.ffn_norm]));
        self.matrices().map(GpuWeight::allocated_bytes).sum::<u64>()
            + vectors.map(wgpu::Buffer::size).sum::<u64>()
    }

    /// Every buffer holding a weight (matrices in row quads are textures, which their
    /// [`GpuWeight`] destroys when dropped).
    pub fn buffers(&self) -> impl Iterator<Item = &wgpu::Buffer> {
        let vectors = std::iter::once(&self.output_norm)
            .chain(self.rope_freqs.as_ref())
            .chain(self.layers.iter().flat_map(|l| [&l.attn_norm, &l.ffn_norm]));
        self.matrices()
            .flat_map(|m| m.parts().iter().filter_map(|p| p.buffer()))
            .chain(vectors)
    }

    /// Every quantized matrix, for building one pipeline per weight type.
    pub fn matrices(&self) -> impl Iterator<Item = &GpuWeight> {
        std::iter::once(&self.token_embd)
            .chain(self.output.as_ref())
            .chain(self.layers.iter().flat_map(|l| {
                l.qkv
                    .matrices()
                    .chain([&l.wo])
                    .chain(l.gate_up.matrices())
                    .chain([&l.down])
            }))
    }
}
