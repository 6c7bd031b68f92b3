//! The forward pass: one command buffer per step (a prefill chunk or one decode token), one
//! compute pass, the top-K of the last position's logits computed on the GPU, and only that
//! read back.

use super::model::{GpuModel, LayerProducts, Readout, ReadyDecode};
#[cfg(not(target_arch = "wasm32"))]
use super::step_recorder::StageTimes;
use super::step_recorder::StepRecorder;
#[cfg(not(target_arch = "wasm32"))]
use super::step_recorder::{StepProbe, StepStamps};
use super::EngineError;
use crate::gpu::kernels::{parse_top_k_output, top_k_output_size, GemvOptions, PreparedGemm};
use crate::gpu::{read_mapped, GpuError};
use crate::sampler::Candidates;

/// A prefill chunk's matrix products (prepared for its batch size).
type PrefillLayer = LayerProducts<PreparedGemm>;

/// Where one decode step's time went: recording and submitting its commands on the CPU, then
/// waiting until the GPU ran them and the result was mapped.
#[cfg(not(target_arch = "wasm32"))]
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct StepTiming {
    pub dispatches: u64,
    pub record_s: f64,
    pub wait_s: f64,
}

impl GpuModel {
    /// Runs `tokens` at positions `start_pos..` and returns the top `k` candidates (with the
    /// full vocabulary's log-normaliser) for the token after the last one; `k = 1` is greedy.
    /// `start_pos` may be below [`Self::len`] (the cache is rewound to it), not above.
    pub async fn forward(
        &mut self,
        tokens: &[u32],
        start_pos: usize,
        k: u32,
    ) -> Result<Candidates, EngineError> {
        self.begin(tokens, start_pos, k)?;
        let chunks: Vec<&[u32]> = tokens.chunks(self.max_batch as usize).collect();
        for (i, chunk) in chunks.iter().enumerate() {
            let last = i + 1 == chunks.len();
            let pos = self.len;
            // Ids past the vocabulary were refused above; the cache grows only once a step ran.
            match self.ready_decode.take() {
                Some(ready) if last && chunk.len() == 1 && ready.k == k && ready.pos == pos => {
                    self.write_step_inputs(chunk, pos);
                    self.ctx.queue.submit([ready.commands]);
                }
                _ => self.run_step(chunk, pos, last.then_some(k)),
            }
            self.len = pos + chunk.len();
        }
        // The next call is most likely the step of the token this one picks: record its
        // commands while the GPU runs this one (on an H200 recording took 0.4–0.6 ms of a
        // 3.4 ms decode step, with the GPU idle meanwhile). Natively the wait below blocks.
        self.ready_decode = Some(ReadyDecode {
            k,
            pos: self.len,
            commands: self.encode_step(
                1,
                self.len,
                Some(k),
                #[cfg(not(target_arch = "wasm32"))]
                None,
            ),
        });
        let bytes = self.read_back(k).await?;
        Ok(parse_top_k_output(&bytes, k)?)
    }

    /// Checks a request, rewinds the cache to `start_pos` and makes the top-`k` readout.
    fn begin(&mut self, tokens: &[u32], start_pos: usize, k: u32) -> Result<(), EngineError> {
        let vocab = self.config.vocab_size;
        if tokens.is_empty() {
            return Err(EngineError::EmptyBatch);
        }
        if k == 0 || k > self.max_k() {
            return Err(EngineError::BadK {
                k,
                max: self.max_k(),
            });
        }
        if start_pos > self.len {
            return Err(EngineError::PositionGap {
                start_pos,
                cached: self.len,
            });
        }
        let end = start_pos + tokens.len();
        if end > self.capacity {
            return Err(EngineError::ContextFull {
                end,
                capacity: self.capacity,
            });
        }
        if let Some(&token) = tokens.iter().find(|&&t| t as usize >= vocab) {
            return Err(EngineError::TokenOutOfRange {
                token,
                vocab_size: vocab,
            });
        }
        self.len = start_pos;
        if !self.readouts.contains_key(&k) {
            let readout = self.make_readout(k);
            self.readouts.insert(k, readout);
        }
        Ok(())
    }

    /// One greedy decode step of `token` after the cached positions, like `forward`, timed in
    /// its parts (native tools: `cargo xtask bench` reports where a step's time goes).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn timed_decode_step(&mut self, token: u32) -> Result<(u32, StepTiming), EngineError> {
        use std::time::Instant;
        let (id, (dispatches, started, recorded)) =
            self.native_decode_step(token, |model, pos| {
                let dispatches = crate::gpu::kernels::dispatches_recorded();
                let started = Instant::now();
                model.run_step(&[token], pos, Some(1));
                let recorded = Instant::now();
                (
                    crate::gpu::kernels::dispatches_recorded() - dispatches,
                    started,
                    recorded,
                )
            })?;
        Ok((
            id,
            StepTiming {
                dispatches,
                record_s: (recorded - started).as_secs_f64(),
                wait_s: recorded.elapsed().as_secs_f64(),
            },
        ))
    }

    /// One greedy decode step of `token`, like `forward`, with each stage of the step submitted
    /// alone and timed (native tools: `cargo xtask bench` reports where the GPU time goes). The
    /// extra submits make the step slower than a real one; compare the stages, not the sum.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn staged_decode_step(&mut self, token: u32) -> Result<(u32, StageTimes), EngineError> {
        self.native_decode_step(token, |model, pos| {
            let mut times = StageTimes::default();
            model.record_step(&[token], pos, Some(1), Some(StepProbe::Timed(&mut times)));
            times
        })
    }

    /// One greedy decode step of `token`, like `forward`, with each stage in a compute pass of
    /// its own, all in one submit, timed by GPU timestamps (native tools: `cargo xtask bench`
    /// reports where the GPU time goes without a round trip per stage); `None` (and no step)
    /// where the device writes no timestamps.
    #[cfg(not(target_arch = "wasm32"))]
    pub fn stamped_decode_step(
        &mut self,
        token: u32,
    ) -> Result<Option<(u32, StageTimes)>, EngineError> {
        // A decode step has 3 + 9 stages a layer at most.
        let stages = 3 + 9 * self.config.n_layers as u32;
        let Some(mut stamps) = StepStamps::new(&self.ctx, stages) else {
            return Ok(None);
        };
        let (id, ()) = self.native_decode_step(token, |model, pos| {
            model.record_step(
                &[token],
                pos,
                Some(1),
                Some(StepProbe::Stamped(&mut stamps)),
            );
        })?;
        let times = pollster::block_on(stamps.times(&self.ctx))?;
        Ok(Some((id, times)))
    }

    /// A greedy decode step of `token` whose commands `record` submits at the cached length,
    /// waited for here: the chosen token and what `record` returned.
    #[cfg(not(target_arch = "wasm32"))]
    fn native_decode_step<T>(
        &mut self,
        token: u32,
        record: impl FnOnce(&Self, usize) -> T,
    ) -> Result<(u32, T), EngineError> {
        let pos = self.len;
        self.begin(&[token], pos, 1)?;
        let recorded = record(self, pos);
        self.len = pos + 1;
        let bytes = pollster::block_on(self.read_back(1))?;
        Ok((parse_top_k_output(&bytes, 1)?.ids[0], recorded))
    }

    fn make_readout(&self, k: u32) -> Readout {
        let device = &self.ctx.device;
        let binding = self.kernels.top_k.prepare(
            device,
            &self.acts.logits,
            0,
            self.config.vocab_size as u32,
            k,
        );
        let staging = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("top_k readback"),
            size: top_k_output_size(k),
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        Readout { binding, staging }
    }

    /// Records and submits one step; with `readout`, also the final norm, the output
    /// projection of the last position, the top-K and the copy to the staging buffer.
    fn run_step(&self, tokens: &[u32], start_pos: usize, readout: Option<u32>) {
        self.record_step(
            tokens,
            start_pos,
            readout,
            #[cfg(not(target_arch = "wasm32"))]
            None,
        );
    }

    /// [`Self::run_step`], or with `probe`, recorded to see into (see [`StepRecorder`]).
    fn record_step(
        &self,
        tokens: &[u32],
        start_pos: usize,
        readout: Option<u32>,
        #[cfg(not(target_arch = "wasm32"))] probe: Option<StepProbe<'_>>,
    ) {
        self.write_step_inputs(tokens, start_pos);
        let commands = self.encode_step(
            tokens.len() as u32,
            start_pos,
            readout,
            #[cfg(not(target_arch = "wasm32"))]
            probe,
        );
        self.ctx.queue.submit([commands]);
    }

    /// Writes a step's token ids and its uniform (batch size, first position): the only
    /// inputs of a step's commands that change from one step to the next.
    fn write_step_inputs(&self, tokens: &[u32], start_pos: usize) {
        let queue = &self.ctx.queue;
        queue.write_buffer(&self.acts.ids, 0, bytemuck::cast_slice(tokens));
        let (n, pos) = (tokens.len() as u32, start_pos as u32);
        self.step.write(queue, self.kernels.attention.step(n, pos));
    }

    /// The commands of a step of `n` tokens from `start_pos` (inputs from
    /// [`Self::write_step_inputs`], which must write the same `n` and `start_pos`); with a
    /// `StepProbe::Timed`, each stage is submitted alone and timed into it, and only the
    /// read-back copy is left in the returned commands; with a `StepProbe::Stamped`, each stage
    /// is a pass of its own with timestamps, resolved at the end.
    fn encode_step(
        &self,
        n: u32,
        start_pos: usize,
        readout: Option<u32>,
        #[cfg(not(target_arch = "wasm32"))] probe: Option<StepProbe<'_>>,
    ) -> wgpu::CommandBuffer {
        let ctx = &self.ctx;
        let (device, limits) = (&ctx.device, &ctx.limits);
        let c = &self.config;
        let a = &self.acts;
        let w = &self.weights;
        // Decode's GEMVs (and the last position's output GEMV of either) may take the norms and
        // SwiGLU into how they read their input (GPUs): then those have no dispatches.
        let fused = self.kernels.fused_decode();
        let fused_layer = fused && n == 1;

        // Batches of more than one token use GEMM, prepared for this batch size.
        let prefill = (n > 1).then(|| {
            let gemm = |m: &crate::gpu::GpuWeight, x, y, acc| {
                self.kernels.gemm[&m.ty()].prepare(device, limits, m, x, y, n, acc)
            };
            let embedding =
                self.kernels
                    .embedding
                    .prepare(device, limits, &w.token_embd, &a.ids, &a.x, n);
            let layers: Vec<PrefillLayer> = w
                .layers
                .iter()
                .map(|lw| {
                    let k = &self.kernels;
                    PrefillLayer {
                        qkv: lw
                            .qkv
                            .prepare_gemm(k, device, limits, &a.h, &[&a.q, &a.k, &a.v], n),
                        o: gemm(&lw.wo, &a.att, &a.x, true),
                        gate_up: lw.gate_up.prepare_gemm(
                            k,
                            device,
                            limits,
                            &a.h,
                            &[&a.gate, &a.up],
                            n,
                        ),
                        down: gemm(&lw.down, &a.gate, &a.x, true),
                    }
                })
                .collect();
            let out = w.output();
            let (x, input) = a.normed(fused, &w.output_norm, c.rms_eps);
            let output = self.kernels.gemv[&out.ty()].prepare(
                device,
                limits,
                out,
                x,
                &a.logits,
                GemvOptions {
                    x_offset: (n - 1) * c.dim as u32,
                    input,
                    ..Default::default()
                },
            );
            (embedding, layers, output)
        });

        let mut encoder = device.create_command_encoder(&wgpu::CommandEncoderDescriptor {
            label: Some("step"),
        });
        {
            #[cfg(not(target_arch = "wasm32"))]
            let mut rec = match probe {
                Some(StepProbe::Timed(times)) => StepRecorder::Timed { ctx, times },
                Some(StepProbe::Stamped(stamps)) => StepRecorder::Stamped {
                    encoder: &mut encoder,
                    stamps,
                },
                None => StepRecorder::pass(&mut encoder),
            };
            #[cfg(target_arch = "wasm32")]
            let mut rec = StepRecorder::pass(&mut encoder);
            let k = &self.kernels;
            rec.stage("embedding", |p| match &prefill {
                Some((embedding, _, _)) => embedding.encode(p),
                None => self.decode.embedding.encode(p),
            });
            for (l, lb) in self.layers.iter().enumerate() {
                // The layer's products in order: q/k/v (1 or 3), o, gate/up (1 or 2), down.
                let mm = |p: &mut wgpu::ComputePass<'_>, pick: usize| match &prefill {
                    Some((_, layers, _)) => layers[l].record(pick, p),
                    None => self.decode.layers[l].record(pick, p),
                };
                if !fused_layer {
                    rec.stage("rms_norm", |p| k.rms_norm.encode_into(p, &lb.attn_norm, n));
                }
                rec.stage("attn_q_k_v", |p| mm(p, 0));
                // RoPE also writes the step's K and V rows into the cache (on GPUs decode's
                // q/k/v product does both).
                if !(fused_layer && self.rope_in_qkv) {
                    rec.stage("rope", |p| k.rope.encode_into(p, &lb.rope, n));
                }
                rec.stage("attention", |p| {
                    k.attention
                        .encode_attend_into(p, &lb.attention, n, start_pos as u32)
                });
                rec.stage("attn_output", |p| mm(p, 1)); // x += Wo·att
                if !fused_layer {
                    rec.stage("rms_norm", |p| k.rms_norm.encode_into(p, &lb.ffn_norm, n));
                }
                rec.stage("ffn_gate_up", |p| mm(p, 2));
                if !fused_layer {
                    rec.stage("swiglu", |p| k.swiglu.encode_into(p, &self.swiglu, n));
                }
                rec.stage("ffn_down", |p| mm(p, 3)); // x += Wdown·swiglu
            }
            if let Some(top_k) = readout {
                if !fused {
                    rec.stage("rms_norm", |p| {
                        k.rms_norm.encode_into(p, &self.output_norm, n)
                    });
                }
                rec.stage("output", |p| match &prefill {
                    Some((_, _, output)) => output.encode(p),
                    None => self.decode.output.encode(p),
                });
                rec.stage("top_k", |p| {
                    k.top_k.encode_into(p, &self.readouts[&top_k].binding)
                });
            }
            rec.finish();
        }
        if let Some(top_k) = readout {
            let r = &self.readouts[&top_k];
            encoder.copy_buffer_to_buffer(
                r.binding.output(),
                0,
                &r.staging,
                0,
                r.binding.output_size(),
            );
        }
        encoder.finish()
    }

    /// Maps the staging buffer of the last step's top-K and copies its bytes out.
    async fn read_back(&self, k: u32) -> Result<Vec<u8>, GpuError> {
        read_mapped(&self.ctx, &self.readouts[&k].staging).await
    }
}
