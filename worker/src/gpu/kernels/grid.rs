//! Spreading a one-dimensional amount of work over a two-dimensional dispatch, since
//! `maxComputeWorkgroupsPerDimension` (65535) is smaller than e.g. Llama 3's 128256
//! vocabulary rows; and the one place every kernel dispatches through, which counts them.

use std::cell::Cell;

/// Workgroup counts for `dispatch_workgroups(x, y, 1)`. Kernels rebuild the linear index as
/// `wg.x + wg.y * num_workgroups.x` and ignore indices past the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkgroupGrid {
    pub x: u32,
    pub y: u32,
}

impl WorkgroupGrid {
    /// The smallest grid of at least `groups` workgroups with no side above `max_per_dim`
    /// (`groups` is at most `max_per_dim²`, over 4 billion with the WebGPU minimum).
    pub fn covering(groups: u32, max_per_dim: u32) -> Self {
        let max_per_dim = max_per_dim.max(1);
        if groups <= max_per_dim {
            return Self {
                x: groups.max(1),
                y: 1,
            };
        }
        let y = groups.div_ceil(max_per_dim);
        Self {
            x: groups.div_ceil(y),
            y,
        }
    }

    pub fn total(&self) -> u64 {
        self.x as u64 * self.y as u64
    }
}

thread_local! {
    /// Dispatches recorded by this thread so far: a diagnostic (`cargo xtask bench` reports
    /// the dispatches of one decode step). Per thread, so that tests running side by side do
    /// not count each other's.
    static DISPATCHES: Cell<u64> = const { Cell::new(0) };
}

pub fn dispatches_recorded() -> u64 {
    DISPATCHES.with(Cell::get)
}

/// Records one dispatch of `x × y` workgroups (every kernel dispatches through here).
pub(crate) fn dispatch(pass: &mut wgpu::ComputePass<'_>, x: u32, y: u32) {
    DISPATCHES.with(|d| d.set(d.get() + 1));
    pass.dispatch_workgroups(x, y, 1);
}

/// Records `pipeline` with `bind_group` over `groups` workgroups, spread over a 2-D grid
/// when `groups` exceeds `max_per_dim`.
pub(crate) fn dispatch_spread(
    pass: &mut wgpu::ComputePass<'_>,
    pipeline: &wgpu::ComputePipeline,
    bind_group: &wgpu::BindGroup,
    groups: u32,
    max_per_dim: u32,
) {
    let grid = WorkgroupGrid::covering(groups, max_per_dim);
    pass.set_pipeline(pipeline);
    pass.set_bind_group(0, bind_group, &[]);
    dispatch(pass, grid.x, grid.y);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_covers_every_group_within_the_limit() {
        for &(groups, max) in &[
            (1, 65535),
            (65535, 65535),
            (65536, 65535),
            (128256, 65535),
            (40, 7),
            (49, 7),
            (0, 10),
        ] {
            let g = WorkgroupGrid::covering(groups, max);
            assert!(g.x <= max && g.y <= max, "{g:?} over {max}");
            assert!(
                g.total() >= groups as u64,
                "{g:?} misses groups of {groups}"
            );
            // No more than one partial row of waste.
            assert!(g.total() - (groups as u64) < g.x as u64 || groups == 0);
        }
    }
}
