// The memory-read probe of bench.rs: reads every vec4 of `src` once, 16 to an invocation
// (coalesced: invocation i of a workgroup reads vec4s i, i + 256, ...), and writes one word per
// workgroup so that the reads cannot be optimised away. Its bytes per second are what a kernel
// that reads each weight byte once can reach on the adapter: a decode step's ceiling.

@group(0) @binding(0) var<storage, read> src: array<vec4<u32>>;
@group(0) @binding(1) var<storage, read_write> sink: array<u32>;

const WG: u32 = 256u;
const PER_LANE: u32 = 16u;

@compute @workgroup_size(WG)
fn main(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(local_invocation_index) lane: u32,
) {
    let idx = wg.x + wg.y * groups.x;
    let first = idx * WG * PER_LANE + lane;
    let n = arrayLength(&src);
    var acc = vec4<u32>(0u);
    for (var i = 0u; i < PER_LANE; i++) {
        let at = first + i * WG;
        if (at < n) {
            acc ^= src[at];
        }
    }
    let v = acc.x ^ acc.y ^ acc.z ^ acc.w;
    if (lane == 0u && idx < arrayLength(&sink)) {
        sink[idx] = v;
    }
}
