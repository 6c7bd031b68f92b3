// Causal grouped-query attention: attention.wgsl's `attend` (read its header for the layouts)
// with no barrier in the loop over positions. attention.rs writes the
// lines marked `// each d` once for every 4 of the head's dimensions (d = 0, 4, ...), with i
// = d / 4: WGSL cannot index a function's registers, and a dynamically indexed array is a
// per-lane gather on a CPU driver. Only the output accumulators are written out so: with the
// query's 16 vec4s unrolled too, the pipeline took 280 ms to build in Chromium on SwiftShader
// (160 ms so, and the step ran no slower: fewer live registers to spill).
//
// One workgroup per (token, head, split) of WG lanes (GPUs: 32 or fewer; software adapters,
// for head sizes attention_heads.wgsl does not take: 4, one SIMD register's worth). A split is
// a stretch of the query's positions; lane j takes positions j, j + WG, ... of it, each whole
// (its score, then its share of V into the lane's own online softmax: running max m, sum l,
// accumulators a). Every lane computes only its own exp, where the cooperative kernel has
// every lane of a workgroup evaluate each position's. The lanes' states are merged once at the
// end through workgroup memory.
//
// On GPUs a batch of few tokens has too few (token, head) pairs to fill the device (Llama 3.2
// 1B decodes with 32 workgroups of a few lanes: 0.16 ms a layer at 640 positions on an H200),
// so its positions may be split: each split writes its unnormalised state (m, l, a) to
// `partials`, and `merge`, a second dispatch, combines a query's splits. How many splits a
// step has is in its uniform: attention.rs's `SplitRule` counts them from the step's last
// position, and sizes the dispatch by the same count. With one split `attend` writes the
// output itself and no merge runs. Software adapters never split. Concatenated after
// attention_io.wgsl and attention_vec4.wgsl.

const WG: u32 = 4u;
// Vec4s per head (head_dim / 4); attention.rs sets it.
const VECS: u32 = 16u;

// Per (token, head, split): m, l, then head_dim accumulators.
@group(0) @binding(6) var<storage, read_write> partials: array<f32>;

fn splits() -> u32 {
    return max(step.splits, 1u);
}

var<workgroup> q_s: array<vec4<f32>, VECS>;
var<workgroup> lane_m: array<f32, WG>;
var<workgroup> lane_l: array<f32, WG>;
var<workgroup> lane_a: array<vec4<f32>, WG * VECS>;

@compute @workgroup_size(WG)
fn attend(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(local_invocation_index) lane: u32,
) {
    let n_split = splits();
    let linear = wg.x + wg.y * groups.x;
    let idx = linear / n_split;
    let split = linear % n_split;
    // Uniform across the workgroup, so the barrier below stays in uniform control flow.
    let in_grid = idx < step.n_tokens * shape.n_heads;
    let query = query_at(idx);
    let q_base = query.q_base;
    let row = query.row;
    let kv_off = query.kv_off;
    let n_pos = select(0u, query.n_pos, in_grid);
    let per_split = (n_pos + n_split - 1u) / n_split;
    let begin = min(split * per_split, n_pos);
    let end = min(begin + per_split, n_pos);
    for (var i = lane; i < VECS; i += WG) {
        q_s[i] = select(vec4<f32>(0.0), q4(q_base + 4u * i) * shape.scale, in_grid);
    }
    workgroupBarrier();
    var a_d = vec4<f32>(0.0); // each d
    var m = LOWEST;
    var l = 0.0;
    for (var p = begin + lane; p < end; p += WG) {
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
    // An empty split (top still LOWEST) leaves m = LOWEST, l = 0, a = 0: no weight in `merge`.
    let base = (idx * n_split + split) * (4u * VECS + 2u);
    if (n_split > 1u && lane == 0u) {
        partials[base] = top;
        partials[base + 1u] = total;
    }
    // Lane `lane` writes vec4s lane, lane + WG, ... of the head.
    for (var i = lane; i < VECS; i += WG) {
        var o = vec4<f32>(0.0);
        for (var j = 0u; j < WG; j++) {
            o += lane_a[j * VECS + i] * exp(lane_m[j] - top);
        }
        if (n_split > 1u) {
            let at = base + 2u + 4u * i;
            partials[at] = o.x;
            partials[at + 1u] = o.y;
            partials[at + 2u] = o.z;
            partials[at + 3u] = o.w;
        } else {
            o /= total;
            let at = q_base + 4u * i;
            out[at] = o.x;
            out[at + 1u] = o.y;
            out[at + 2u] = o.z;
            out[at + 3u] = o.w;
        }
    }
}

// Combines the splits' states of each query (one workgroup per (token, head)) into its output.
@compute @workgroup_size(64)
fn merge(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(local_invocation_index) lane: u32,
) {
    let idx = wg.x + wg.y * groups.x;
    if (idx >= step.n_tokens * shape.n_heads) {
        return;
    }
    let n_split = splits();
    let stride = 4u * VECS + 2u;
    let base = idx * n_split * stride;
    var top = LOWEST;
    for (var s = 0u; s < n_split; s++) {
        top = max(top, partials[base + s * stride]);
    }
    var total = 0.0;
    for (var s = 0u; s < n_split; s++) {
        total += partials[base + s * stride + 1u] * exp(partials[base + s * stride] - top);
    }
    let q_base = idx * 4u * VECS;
    for (var e = lane; e < 4u * VECS; e += 64u) {
        var o = 0.0;
        for (var s = 0u; s < n_split; s++) {
            let at = base + s * stride;
            o += partials[at + 2u + e] * exp(partials[at] - top);
        }
        out[q_base + e] = o / total;
    }
}
