// Causal grouped-query attention for software adapters: attention.wgsl's `attend` (read its
// header for the layouts) with no barrier in the loop over positions. attention.rs writes the
// lines marked `// each d` once for every 4 of the head's dimensions (d = 0, 4, ...), with i
// = d / 4: WGSL cannot index a function's registers, and a dynamically indexed array is a
// per-lane gather on a CPU driver. Only the output accumulators are written out so: with the
// query's 16 vec4s unrolled too, the pipeline took 280 ms to build in Chromium on SwiftShader
// (160 ms so, and the step ran no slower: fewer live registers to spill).
//
// One workgroup per (token, head) of WG lanes, one SIMD register's worth: lane j takes
// positions j, j + WG, ..., each whole (its score, then its share of V into the lane's own
// online softmax: running max m, sum l, accumulators a). Every lane computes only its own
// exp, where the cooperative kernel has every lane of a workgroup evaluate each position's.
// The lanes' states are merged once at the end through workgroup memory. Concatenated after
// attention_io.wgsl.

const WG: u32 = 4u;
// Vec4s per head (head_dim / 4); attention.rs sets it.
const VECS: u32 = 16u;

var<workgroup> q_s: array<vec4<f32>, VECS>;
var<workgroup> lane_m: array<f32, WG>;
var<workgroup> lane_l: array<f32, WG>;
var<workgroup> lane_a: array<vec4<f32>, WG * VECS>;

fn q4(i: u32) -> vec4<f32> {
    return vec4<f32>(q[i], q[i + 1u], q[i + 2u], q[i + 3u]);
}

fn k4(i: u32) -> vec4<f32> {
    return vec4<f32>(k_cache[i], k_cache[i + 1u], k_cache[i + 2u], k_cache[i + 3u]);
}

fn v4(i: u32) -> vec4<f32> {
    return vec4<f32>(v_cache[i], v_cache[i + 1u], v_cache[i + 2u], v_cache[i + 3u]);
}

@compute @workgroup_size(WG)
fn attend(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(local_invocation_index) lane: u32,
) {
    let idx = wg.x + wg.y * groups.x;
    // Uniform across the workgroup, so the barrier below stays in uniform control flow.
    let in_grid = idx < step.n_tokens * shape.n_heads;
    let query = query_at(idx);
    let q_base = query.q_base;
    let row = query.row;
    let kv_off = query.kv_off;
    let n_pos = select(0u, query.n_pos, in_grid);
    for (var i = lane; i < VECS; i += WG) {
        q_s[i] = select(vec4<f32>(0.0), q4(q_base + 4u * i) * shape.scale, in_grid);
    }
    workgroupBarrier();
    var a_d = vec4<f32>(0.0); // each d
    var m = LOWEST;
    var l = 0.0;
    for (var p = lane; p < n_pos; p += WG) {
        let kb = p * row + kv_off;
        var s = 0.0;
        for (var i = 0u; i < VECS; i++) {
            s += dot(q_s[i], k4(kb + 4u * i));
        }
        // One exp per position: e = exp(-|s - m|) rescales the old state when s is the new
        // max, and weighs the position otherwise.
        let e = exp(-abs(s - m));
        let grows = s > m;
        let corr = select(1.0, e, grows);
        let w = select(e, 1.0, grows);
        m = max(m, s);
        l = l * corr + w;
        let vb = p * row + kv_off;
        a_d = a_d * corr + w * v4(vb + d); // each d
    }
    lane_m[lane] = m;
    lane_l[lane] = l;
    lane_a[lane * VECS + d / 4u] = a_d; // each d
    workgroupBarrier();
    if (!in_grid) {
        return;
    }
    var top = LOWEST;
    for (var j = 0u; j < WG; j++) {
        top = max(top, lane_m[j]);
    }
    var total = 0.0;
    for (var j = 0u; j < WG; j++) {
        total += lane_l[j] * exp(lane_m[j] - top);
    }
    // Lane `lane` writes vec4s lane, lane + WG, ... of the head.
    for (var i = lane; i < VECS; i += WG) {
        var o = vec4<f32>(0.0);
        for (var j = 0u; j < WG; j++) {
            o += lane_a[j * VECS + i] * exp(lane_m[j] - top);
        }
        o /= total;
        let at = q_base + 4u * i;
        out[at] = o.x;
        out[at + 1u] = o.y;
        out[at + 2u] = o.z;
        out[at + 3u] = o.w;
    }
}
