// The sum of the 32 `acc`s of `lane`'s team, in its first lane, by a tree reduction in
// workgroup memory; every lane of the workgroup calls it.
fn team_sum(lane: u32, acc: f32) -> f32 {
    let i = lane % LANES;
    partial[lane] = acc;
    workgroupBarrier();
    for (var r = LANES / 2u; r > 0u; r >>= 1u) {
        if (i < r) {
            partial[lane] += partial[lane + r];
        }
        workgroupBarrier();
    }
    return partial[lane];
}
