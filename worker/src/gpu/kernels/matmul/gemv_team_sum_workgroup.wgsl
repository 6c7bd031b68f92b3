// The sum of the 32 `acc`s of `lane`'s team, by a tree reduction in workgroup memory
// (gemv_team.wgsl's `group_sum`); every lane of the workgroup calls it.
fn team_sum(lane: u32, acc: f32) -> f32 {
    return group_sum(lane, acc, LANES);
}
