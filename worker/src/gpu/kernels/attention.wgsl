// Causal grouped-query attention over the f32 KV cache, and the write of a batch's new K/V rows
// into that cache.
//
// KV cache, per layer, one buffer each for K and V: [capacity][n_kv_heads][head_dim] f32
// (row `pos` holds every KV head of that position).
// q and out: [n_tokens][n_heads][head_dim]. Token t of the batch sits at start_pos + t and
// attends to positions 0 ..= start_pos + t. Query head h reads KV head h / (n_heads / n_kv_heads).
//
// `attend`: one workgroup per (token, head). Positions are visited in chunks of WG (any length,
// no array sized by the sequence), with an online softmax: a running max m, the running sum l
// of exp(s - m) and the output accumulators rescaled by exp(m_old - m_new) per chunk. Each lane
// scores one position of the chunk; then every lane reads all the chunk's scores, so m and l
// are the same in every lane and need no reduction.
//
// Concatenated after attention_io.wgsl (the shapes and bindings both kernels share).

@group(0) @binding(1) var<storage, read_write> k_cache: array<f32>;
@group(0) @binding(2) var<storage, read_write> v_cache: array<f32>;
@group(0) @binding(6) var<storage, read> k_new: array<f32>;
@group(0) @binding(7) var<storage, read> v_new: array<f32>;

// On software adapters attention.rs rewrites these two lines to 16 and 16: a workgroup of 64
// makes a CPU driver switch between its SIMD groups at every barrier.
const WG: u32 = 64u;
// Output dimensions per lane: head_dim <= WG * ACC.
const ACC: u32 = 4u;
const MAX_HEAD_DIM: u32 = 256u;

var<workgroup> q_s: array<f32, MAX_HEAD_DIM>;
var<workgroup> red: array<f32, WG>;

@compute @workgroup_size(WG)
fn attend(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(local_invocation_index) lane: u32,
) {
    let idx = wg.x + wg.y * groups.x;
    if (idx >= step.n_tokens * shape.n_heads) {
        return;
    }
    let query = query_at(idx);
    let hd = shape.head_dim;
    let q_base = query.q_base;
    for (var d = lane; d < hd; d += WG) {
        q_s[d] = q[q_base + d] * shape.scale;
    }
    workgroupBarrier();

    let n_pos = query.n_pos;
    let row = query.row;
    let kv_off = query.kv_off;
    var m = LOWEST;
    var l = 0.0;
    var acc: array<f32, ACC>;
    for (var c0 = 0u; c0 < n_pos; c0 += WG) {
        let p = c0 + lane;
        var s = LOWEST;
        if (p < n_pos) {
            let kb = p * row + kv_off;
            var dot = 0.0;
            for (var d = 0u; d < hd; d++) {
                dot += q_s[d] * k_cache[kb + d];
            }
            s = dot;
        }
        red[lane] = s;
        workgroupBarrier();
        // Every lane reads the chunk's scores itself (no tree reduction, no second array): one
        // barrier per chunk instead of log2(WG) + 2, which a CPU driver pays for in switches
        // between the workgroup's SIMD groups.
        let chunk = min(WG, n_pos - c0);
        var m_new = m;
        for (var c = 0u; c < chunk; c++) {
            m_new = max(m_new, red[c]);
        }
        let corr = exp(m - m_new);
        l *= corr;
        for (var j = 0u; j < ACC; j++) {
            if (j * WG >= hd) {
                break;
            }
            acc[j] *= corr;
        }
        m = m_new;
        for (var c = 0u; c < chunk; c++) {
            let pw = exp(red[c] - m_new);
            l += pw;
            let vb = (c0 + c) * row + kv_off;
            for (var j = 0u; j < ACC; j++) {
                if (j * WG >= hd) {
                    break;
                }
                let d = lane + j * WG;
                if (d < hd) {
                    acc[j] += pw * v_cache[vb + d];
                }
            }
        }
        // red is rewritten by the next chunk.
        workgroupBarrier();
    }

    let inv = 1.0 / l;
    for (var j = 0u; j < ACC; j++) {
        let d = lane + j * WG;
        if (d < hd) {
            out[q_base + d] = acc[j] * inv;
        }
    }
}

// Copies the batch's K and V rows ([n_tokens][n_kv_heads][head_dim]) to cache rows
// start_pos.. . One invocation per element.
@compute @workgroup_size(256)
fn kv_write(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(local_invocation_index) lane: u32,
) {
    let i = (wg.x + wg.y * groups.x) * 256u + lane;
    let row = shape.n_kv_heads * shape.head_dim;
    if (i >= step.n_tokens * row) {
        return;
    }
    let at = step.start_pos * row + i;
    k_cache[at] = k_new[i];
    v_cache[at] = v_new[i];
}
