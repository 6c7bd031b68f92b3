//! Where a step's dispatches are recorded: all into one compute pass (every real step), or, to
//! see where a decode step's GPU time goes (native tools), each stage of the step in a submit of
//! its own, waited for and timed.

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
        }
    }
}

/// One decode step's GPU time per kind of stage (the 30 layers' attentions add up under one
/// name), in the order each kind first ran. Every stage was submitted alone and waited for, so
/// each time holds `submits` round trips of an otherwise idle queue besides the kernels' work.
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
