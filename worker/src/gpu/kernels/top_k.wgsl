// Top-K candidates (sorted, best first) and the full-vocabulary logsumexp of one logit row, so
// decode reads back a few hundred bytes instead of the whole vocabulary.
//
// Two stages. Stage 1 (`partial_*`): one workgroup per chunk of SLOTS logits writes the chunk's
// top K and its (max, sum of exp(x - max)). Stage 2 (`merge_*`): one workgroup merges all
// chunks. GPUs only (software adapters run top_k_scan.wgsl). Concatenated after
// top_k_common.wgsl.

// The workgroup size (top_k.rs).
override WG: u32 = 256u;
// Logits per stage-1 workgroup.
const SLOTS: u32 = 1024u;

var<workgroup> vals: array<f32, SLOTS>;
var<workgroup> ids: array<u32, SLOTS>;
var<workgroup> red_m: array<f32, WG>;
var<workgroup> red_s: array<f32, WG>;

// Sorts vals/ids (all SLOTS) in rank order. Starts and ends with a barrier.
fn bitonic_sort(lane: u32) {
    workgroupBarrier();
    for (var k = 2u; k <= SLOTS; k = k << 1u) {
        for (var j = k >> 1u; j > 0u; j = j >> 1u) {
            for (var r = 0u; r < SLOTS / 2u / WG; r++) {
                let p = lane + r * WG;
                let i = ((p & ~(j - 1u)) << 1u) | (p & (j - 1u));
                let l = i + j;
                let vi = vals[i];
                let ii = ids[i];
                let vl = vals[l];
                let il = ids[l];
                let swap = select(before(vi, ii, vl, il), before(vl, il, vi, ii), (i & k) == 0u);
                if (swap) {
                    vals[i] = vl;
                    ids[i] = il;
                    vals[l] = vi;
                    ids[l] = ii;
                }
            }
            workgroupBarrier();
        }
    }
}

// Tree-reduces every lane's (max, sumexp); the result is valid in every lane.
fn reduce_lse(lane: u32, mine: vec2<f32>) -> vec2<f32> {
    red_m[lane] = mine.x;
    red_s[lane] = mine.y;
    workgroupBarrier();
    for (var half = WG / 2u; half > 0u; half = half >> 1u) {
        if (lane < half) {
            let c = combine(vec2<f32>(red_m[lane], red_s[lane]), vec2<f32>(red_m[lane + half], red_s[lane + half]));
            red_m[lane] = c.x;
            red_s[lane] = c.y;
        }
        workgroupBarrier();
    }
    let r = vec2<f32>(red_m[0], red_s[0]);
    workgroupBarrier();
    return r;
}

// Loads chunk p into vals/ids (padding past the vocabulary) and returns this lane's (max, sumexp).
fn load_chunk(p: u32, lane: u32) -> vec2<f32> {
    var acc = vec2<f32>(LOWEST, 0.0);
    for (var r = 0u; r < SLOTS / WG; r++) {
        let i = r * WG + lane;
        let g = p * SLOTS + i;
        if (g < shape.vocab) {
            let v = logits[shape.logits_offset + g];
            vals[i] = v;
            ids[i] = g;
            acc = combine(acc, vec2<f32>(v, 1.0));
        } else {
            vals[i] = LOWEST;
            ids[i] = NONE;
        }
    }
    return acc;
}

@compute @workgroup_size(WG)
fn partial_top_k(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(local_invocation_index) lane: u32,
) {
    let p = wg.x + wg.y * groups.x;
    if (p >= shape.n_partials) {
        return;
    }
    let lse = reduce_lse(lane, load_chunk(p, lane));
    bitonic_sort(lane);
    let k = shape.k;
    let base = p * (2u * k + 2u);
    if (lane == 0u) {
        partials[base] = bitcast<u32>(lse.x);
        partials[base + 1u] = bitcast<u32>(lse.y);
    }
    for (var j = lane; j < k; j += WG) {
        partials[base + 2u + j] = ids[j];
        partials[base + 2u + k + j] = bitcast<u32>(vals[j]);
    }
}

// Folds the chunks' (max, sumexp) into the logsumexp; written by lane 0.
fn merge_lse(lane: u32, stride: u32) {
    var acc = vec2<f32>(LOWEST, 0.0);
    for (var p = lane; p < shape.n_partials; p += WG) {
        acc = combine(acc, vec2<f32>(bitcast<f32>(partials[p * stride]), bitcast<f32>(partials[p * stride + 1u])));
    }
    let all = reduce_lse(lane, acc);
    if (lane == 0u) {
        out[0] = bitcast<u32>(all.x + log(all.y));
        out[1] = shape.k;
        out[2] = 0u;
        out[3] = 0u;
    }
}

@compute @workgroup_size(WG)
fn merge_top_k(@builtin(local_invocation_index) lane: u32) {
    let k = shape.k;
    let stride = 2u * k + 2u;
    merge_lse(lane, stride);

    // Slots [0, k) hold the best so far; each round fills the rest with whole chunk lists
    // and sorts the window.
    for (var i = lane; i < k; i += WG) {
        vals[i] = LOWEST;
        ids[i] = NONE;
    }
    let per_round = (SLOTS - k) / k;
    for (var first = 0u; first < shape.n_partials; first += per_round) {
        for (var i = lane; i < SLOTS - k; i += WG) {
            let list = first + i / k;
            let j = i % k;
            if (i < per_round * k && list < shape.n_partials) {
                let base = list * stride;
                ids[k + i] = partials[base + 2u + j];
                vals[k + i] = bitcast<f32>(partials[base + 2u + k + j]);
            } else {
                ids[k + i] = NONE;
                vals[k + i] = LOWEST;
            }
        }
        bitonic_sort(lane);
    }
    for (var j = lane; j < k; j += WG) {
        out[4u + j] = ids[j];
        out[4u + k + j] = bitcast<u32>(vals[j]);
    }
}

// Argmax fast path (k = 1): tree reductions instead of sorts.

// Tree-reduces vals/ids[0, WG) to the best entry, left in slot 0.
fn reduce_best(lane: u32) {
    workgroupBarrier();
    for (var half = WG / 2u; half > 0u; half = half >> 1u) {
        if (lane < half && before(vals[lane + half], ids[lane + half], vals[lane], ids[lane])) {
            vals[lane] = vals[lane + half];
            ids[lane] = ids[lane + half];
        }
        workgroupBarrier();
    }
}

@compute @workgroup_size(WG)
fn partial_argmax(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(local_invocation_index) lane: u32,
) {
    let p = wg.x + wg.y * groups.x;
    if (p >= shape.n_partials) {
        return;
    }
    var acc = vec2<f32>(LOWEST, 0.0);
    var best_v = LOWEST;
    var best_i = NONE;
    for (var r = 0u; r < SLOTS / WG; r++) {
        let g = p * SLOTS + r * WG + lane;
        if (g < shape.vocab) {
            let v = logits[shape.logits_offset + g];
            acc = combine(acc, vec2<f32>(v, 1.0));
            if (before(v, g, best_v, best_i)) {
                best_v = v;
                best_i = g;
            }
        }
    }
    let lse = reduce_lse(lane, acc);
    vals[lane] = best_v;
    ids[lane] = best_i;
    reduce_best(lane);
    if (lane == 0u) {
        let base = p * 4u;
        partials[base] = bitcast<u32>(lse.x);
        partials[base + 1u] = bitcast<u32>(lse.y);
        partials[base + 2u] = ids[0];
        partials[base + 3u] = bitcast<u32>(vals[0]);
    }
}

@compute @workgroup_size(WG)
fn merge_argmax(@builtin(local_invocation_index) lane: u32) {
    merge_lse(lane, 4u);
    var best_v = LOWEST;
    var best_i = NONE;
    for (var p = lane; p < shape.n_partials; p += WG) {
        let v = bitcast<f32>(partials[p * 4u + 3u]);
        let i = partials[p * 4u + 2u];
        if (before(v, i, best_v, best_i)) {
            best_v = v;
            best_i = i;
        }
    }
    vals[lane] = best_v;
    ids[lane] = best_i;
    reduce_best(lane);
    if (lane == 0u) {
        out[4] = ids[0];
        out[5] = bitcast<u32>(vals[0]);
    }
}
