//! Where a step's dispatches are recorded: all into one compute pass (every real step), or, to
//! see where a decode step's GPU time goes (native tools), each stage of the step in a submit of
//! its own, waited for and timed, or each stage in a compute pass of its own in one submit, with
//! GPU timestamps at each pass's start and end (adapters with timestamp queries).

#[cfg(not(target_arch = "wasm32"))]
use crate::gpu::GpuContext;

pub(super) enum StepRecorder<'a> {
    /// The step's one compute pass.
    Pass(Box<wgpu::ComputePass<'a>>),
    /// One submit per stage, each waited for.
    #[cfg(not(target_arch = "wasm32"))]
    Timed {
        ctx: &'a GpuContext,
        times: &'a mut StageTimes,
    },
    /// One pass per stage, each timed on the GPU.
    #[cfg(not(target_arch = "wasm32"))]
    Stamped {
        encoder: &'a mut wgpu::CommandEncoder,
        stamps: &'a mut StepStamps,
    },
}

/// How a native tool looks into a step (see [`StepRecorder`]).
#[cfg(not(target_arch = "wasm32"))]
pub(super) enum StepProbe<'a> {
    Timed(&'a mut StageTimes),
    Stamped(&'a mut StepStamps),
}

impl<'a> StepRecorder<'a> {
    /// Records into one compute pass of `encoder`.
    pub fn pass(encoder: &'a mut wgpu::CommandEncoder) -> Self {
        Self::Pass(Box::new(encoder.begin_compute_pass(
            &wgpu::ComputePassDescriptor {
                label: Some("step"),
                timestamp_writes: None,
            },
        )))
    }

    /// Ends the recording (a stamped step's timestamps are resolved after its last pass).
    pub fn finish(self) {
        #[cfg(not(target_arch = "wasm32"))]
        if let Self::Stamped { encoder, stamps } = self {
            stamps.resolve(encoder);
        }
    }

    /// Records one stage of the step (`name` says which kind of kernel it runs).
    #[cfg_attr(target_arch = "wasm32", allow(unused_variables))]
    pub fn stage(&mut self, name: &'static str, record: impl FnOnce(&mut wgpu::ComputePass<'_>)) {
        match self {
            Self::Pass(pass) => record(pass),
            #[cfg(not(target_arch = "wasm32"))]
            Self::Timed { ctx, times } => {
                use crate::gpu::kernels::dispatches_recorded;
                let mut encoder = ctx.device.create_command_encoder(&Default::default());
                let before = dispatches_recorded();
                record(&mut encoder.begin_compute_pass(&Default::default()));
                let dispatches = dispatches_recorded() - before;
                let started = std::time::Instant::now();
                ctx.queue.submit([encoder.finish()]);
                pollster::block_on(crate::gpu::wait_idle(ctx));
                times.add(name, started.elapsed().as_secs_f64(), dispatches);
            }
            #[cfg(not(target_arch = "wasm32"))]
            Self::Stamped { encoder, stamps } => stamps.stage(encoder, name, record),
        }
    }
}

/// The timestamp queries of a step recorded by [`StepRecorder::Stamped`]: two per stage, up to
/// a capacity; stages past it run untimed.
#[cfg(not(target_arch = "wasm32"))]
pub(super) struct StepStamps {
    queries: wgpu::QuerySet,
    resolved: wgpu::Buffer,
    staging: wgpu::Buffer,
    capacity: u32,
    /// Each stage's name and dispatches, in order.
    stages: Vec<(&'static str, u64)>,
}

#[cfg(not(target_arch = "wasm32"))]
impl StepStamps {
    /// Room for `capacity` stages' passes, or `None` where the device cannot write timestamps.
    pub fn new(ctx: &GpuContext, capacity: u32) -> Option<Self> {
        if !ctx.features.contains(wgpu::Features::TIMESTAMP_QUERY) {
            return None;
        }
        let device = &ctx.device;
        let count = 2 * capacity;
        let size = u64::from(count) * wgpu::QUERY_SIZE as u64;
        let buffer = |label, usage| {
            device.create_buffer(&wgpu::BufferDescriptor {
                label: Some(label),
                size,
                usage,
                mapped_at_creation: false,
            })
        };
        Some(Self {
            queries: device.create_query_set(&wgpu::QuerySetDescriptor {
                label: Some("step stamps"),
                ty: wgpu::QueryType::Timestamp,
                count,
            }),
            resolved: buffer(
                "step stamps",
                wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC,
            ),
            staging: buffer(
                "step stamps readback",
                wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            ),
            capacity,
            stages: Vec::new(),
        })
    }

    fn timed_stages(&self) -> u32 {
        (self.stages.len() as u32).min(self.capacity)
    }

    fn stage(
        &mut self,
        encoder: &mut wgpu::CommandEncoder,
        name: &'static str,
        record: impl FnOnce(&mut wgpu::ComputePass<'_>),
    ) {
        use crate::gpu::kernels::dispatches_recorded;
        let i = self.stages.len() as u32;
        let timestamp_writes = (i < self.capacity).then(|| wgpu::ComputePassTimestampWrites {
            query_set: &self.queries,
            beginning_of_pass_write_index: Some(2 * i),
            end_of_pass_write_index: Some(2 * i + 1),
        });
        let before = dispatches_recorded();
        record(
            &mut encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some(name),
                timestamp_writes,
            }),
        );
        self.stages.push((name, dispatches_recorded() - before));
    }

    /// Records the copy of the stamps to where [`Self::times`] reads them.
    fn resolve(&self, encoder: &mut wgpu::CommandEncoder) {
        let count = 2 * self.timed_stages();
        if count == 0 {
            return;
        }
        encoder.resolve_query_set(&self.queries, 0..count, &self.resolved, 0);
        let size = u64::from(count) * wgpu::QUERY_SIZE as u64;
        encoder.copy_buffer_to_buffer(&self.resolved, 0, &self.staging, 0, size);
    }

    /// Each kind of stage's GPU time, once the step ran (`submits` counts its passes).
    pub async fn times(&self, ctx: &GpuContext) -> Result<StageTimes, crate::gpu::GpuError> {
        let bytes = crate::gpu::read_mapped(ctx, &self.staging).await?;
        let ticks: Vec<u64> = bytemuck::pod_collect_to_vec(&bytes);
        let period_s = f64::from(ctx.queue.get_timestamp_period()) * 1e-9;
        let mut times = StageTimes::default();
        for (i, &(name, dispatches)) in self.stages.iter().enumerate() {
            let seconds = match ticks.get(2 * i..2 * i + 2) {
                Some(&[start, end]) => end.saturating_sub(start) as f64 * period_s,
                _ => 0.0,
            };
            times.add(name, seconds, dispatches);
        }
        Ok(times)
    }
}

/// One decode step's time per kind of stage (the 30 layers' attentions add up under one name),
/// in the order each kind first ran. From [`StepRecorder::Timed`], every stage was submitted
/// alone and waited for, so each time holds `submits` round trips of an otherwise idle queue
/// besides the kernels' work; from [`StepRecorder::Stamped`], times are the GPU's between the
/// start and end of each of the stage's `submits` passes.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StageTimes {
    pub stages: Vec<StageTime>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct StageTime {
    pub name: &'static str,
    pub seconds: f64,
    pub dispatches: u64,
    pub submits: u64,
}

impl StageTimes {
    #[cfg(not(target_arch = "wasm32"))]
    fn add(&mut self, name: &'static str, seconds: f64, dispatches: u64) {
        match self.stages.iter_mut().find(|s| s.name == name) {
            Some(s) => {
                s.seconds += seconds;
                s.dispatches += dispatches;
                s.submits += 1;
            }
            None => self.stages.push(StageTime {
                name,
                seconds,
                dispatches,
                submits: 1,
            }),
        }
    }
}
