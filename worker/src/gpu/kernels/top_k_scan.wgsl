// Top-K and logsumexp for software adapters (same bindings, partials and output as
// top_k.wgsl; read its header). On a CPU driver every workgroup barrier switches between the
// workgroup's SIMD groups, and top_k.wgsl's bitonic sorts take dozens of them per chunk: for
// SmolLM2 (49152 logits) its argmax took 3.6 ms of a decode step on SwiftShader, and its top-2
// (what a greedy chat asks for) about 17 ms a token in Chromium. Here no stage has a barrier:
//
// - `scan_partials`: each invocation walks one chunk of CHUNK logits in order, keeping its
//   (max, sum of exp(x - max)) and its best k in a sorted list. A logit enters the list only
//   when it beats the list's last entry (kept in registers); a chunk of N random logits makes
//   about k·(1 + ln(N/k)) entries.
// - `scan_merge`: one invocation folds the chunks' (max, sumexp) and merges their lists into
//   the best k. A list is sorted, so its walk stops at its first entry that does not beat the
//   current k-th.
//
// Concatenated after top_k_common.wgsl.

// Logits per invocation of `scan_partials`, the largest k and the workgroup size: top_k.rs's
// SCAN_CHUNK, SCAN_MAX_K and SCAN_WORKGROUP.
const CHUNK: u32 = 512u;
const K_MAX: u32 = 128u;
const WG: u32 = 4u;

// The best k so far, sorted; `last` holds entry k - 1 (what a newcomer must beat).
var<private> list_v: array<f32, K_MAX>;
var<private> list_i: array<u32, K_MAX>;
var<private> last_v: f32;
var<private> last_i: u32;

fn clear_list() {
    for (var j = 0u; j < shape.k; j++) {
        list_v[j] = LOWEST;
        list_i[j] = NONE;
    }
    last_v = LOWEST;
    last_i = NONE;
}

// Offers (v, id); returns whether it entered the list.
fn offer(v: f32, id: u32) -> bool {
    if (!before(v, id, last_v, last_i)) {
        return false;
    }
    var j = shape.k - 1u;
    while (j > 0u && before(v, id, list_v[j - 1u], list_i[j - 1u])) {
        list_v[j] = list_v[j - 1u];
        list_i[j] = list_i[j - 1u];
        j--;
    }
    list_v[j] = v;
    list_i[j] = id;
    last_v = list_v[shape.k - 1u];
    last_i = list_i[shape.k - 1u];
    return true;
}

@compute @workgroup_size(WG)
fn scan_partials(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(local_invocation_index) lane: u32,
) {
    let p = (wg.x + wg.y * groups.x) * WG + lane;
    if (p >= shape.n_partials) {
        return;
    }
    clear_list();
    var acc = vec2<f32>(LOWEST, 0.0);
    let end = min(p * CHUNK + CHUNK, shape.vocab);
    for (var g = p * CHUNK; g < end; g++) {
        let v = logits[shape.logits_offset + g];
        acc = combine(acc, vec2<f32>(v, 1.0));
        offer(v, g);
    }
    let k = shape.k;
    let base = p * (2u * k + 2u);
    partials[base] = bitcast<u32>(acc.x);
    partials[base + 1u] = bitcast<u32>(acc.y);
    for (var j = 0u; j < k; j++) {
        partials[base + 2u + j] = list_i[j];
        partials[base + 2u + k + j] = bitcast<u32>(list_v[j]);
    }
}

@compute @workgroup_size(1)
fn scan_merge() {
    let k = shape.k;
    let stride = 2u * k + 2u;
    clear_list();
    var acc = vec2<f32>(LOWEST, 0.0);
    for (var p = 0u; p < shape.n_partials; p++) {
        let base = p * stride;
        acc = combine(acc, vec2<f32>(bitcast<f32>(partials[base]), bitcast<f32>(partials[base + 1u])));
        for (var j = 0u; j < k; j++) {
            if (!offer(bitcast<f32>(partials[base + 2u + k + j]), partials[base + 2u + j])) {
                break;
            }
        }
    }
    out[0] = bitcast<u32>(acc.x + log(acc.y));
    out[1] = k;
    out[2] = 0u;
    out[3] = 0u;
    for (var j = 0u; j < k; j++) {
        out[4u + j] = list_i[j];
        out[4u + k + j] = bitcast<u32>(list_v[j]);
    }
}
