// Top-K and logsumexp for software adapters (same bindings, partials and output as
// top_k.wgsl; read its header). On a CPU driver every workgroup barrier switches between the
// workgroup's SIMD groups, and top_k.wgsl's bitonic sorts take dozens of them per chunk: its
// two stages took 3.6 ms of a SmolLM2 decode step on SwiftShader. Here no stage has a barrier:
//
// - `scan_partials`: each invocation walks one chunk of CHUNK logits in order, keeping its
//   (max, sum of exp(x - max)) and its best k in a sorted list. A logit enters the list only
//   when it beats the list's last entry (kept in registers); a chunk of N random logits makes
//   about k·(1 + ln(N/k)) entries.
// - `scan_merge`: one invocation folds the chunks' (max, sumexp) and merges their lists into
//   the best k. A list is sorted, so its walk stops at its first entry that does not beat the
//   current k-th.
//
// Rank order as top_k.wgsl: larger logit first, ties to the lower id.

struct Shape {
    vocab: u32,
    k: u32,
    n_partials: u32,
    logits_offset: u32,
}

@group(0) @binding(0) var<storage, read> logits: array<f32>;
@group(0) @binding(1) var<storage, read_write> partials: array<u32>;
@group(0) @binding(2) var<uniform> shape: Shape;
@group(0) @binding(3) var<storage, read_write> out: array<u32>;

// Logits per invocation of `scan_partials`; top_k.rs reads it from here.
const CHUNK: u32 = 512u;
// The largest k (top_k.rs's max_k on software adapters).
const K_MAX: u32 = 128u;
const WG: u32 = 4u;
const NONE: u32 = 0xffffffffu;
// The lowest finite f32, exactly (a decimal literal may round past it, which Tint rejects).
const LOWEST: f32 = -0x1.fffffep+127f;

// Whether (va, ia) ranks above (vb, ib).
fn before(va: f32, ia: u32, vb: f32, ib: u32) -> bool {
    if (ia == NONE || ib == NONE) {
        return ia < ib;
    }
    if (va != vb) {
        return va > vb;
    }
    return ia < ib;
}

// (m, s) with s = sum exp(x - m), merged with (m2, s2).
fn combine(a: vec2<f32>, b: vec2<f32>) -> vec2<f32> {
    let m = max(a.x, b.x);
    return vec2<f32>(m, a.y * exp(a.x - m) + b.y * exp(b.x - m));
}

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
