// Causal grouped-query attention for software adapters: one workgroup of WG = 4 lanes (one
// SIMD register of a CPU driver) per (token, HEADS query heads of one KV head), the head's
// dimensions spread over the lanes. Read attention.wgsl's header for the layouts.
//
// On a CPU driver every storage read whose index is not a constant is a gather of one scalar
// load per lane (see matmul/gemv_rows_q8_0_words.wgsl), and so is a read of workgroup memory
// at an index the driver cannot see is the same in every lane. attention_lanes.wgsl with 4
// lanes (each taking whole positions of one query head) spent about three quarters of its time
// on SwiftShader in such reads: K and V rows loaded once per query head, and the query read
// from workgroup memory at every position. Here lane j holds vec4s j, j + 4, ... of each of
// its HEADS query heads in registers, and of their output accumulators; the lanes walk the
// positions together, each loading its vec4s of a K row (the 4 lanes read 64 contiguous bytes)
// once for the HEADS heads, and the partial dot products meet in workgroup memory. Every lane
// then holds the same scores, so the online softmax (running max m, sum l) needs no merge, and
// each lane's accumulators are its own dimensions of the output.
//
// attention.rs writes the lines marked `// each g` once for each of the workgroup's heads
// (g = 0, 1, ...; in names, `_g` becomes `_0`, `_1`, ...), and each block from `// each d {`
// to `// }` once for each of a lane's head_dim / 16 vec4s (d = 0, 4, ...; `_d` likewise),
// its `// each g` lines for each head: WGSL cannot index a function's registers, and a
// dynamically indexed array is a gather. Needs head_dim a multiple of 16. Concatenated after
// attention_io.wgsl and attention_vec4.wgsl.

const WG: u32 = 4u;
// Query heads a workgroup serves; attention.rs sets it.
const HEADS: u32 = 1u;

// Each lane's partial dot product with the position's K row, per head.
var<workgroup> parts: array<f32, HEADS * WG>;

@compute @workgroup_size(WG)
fn attend(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(local_invocation_index) lane: u32,
) {
    let linear = wg.x + wg.y * groups.x;
    let per_token = shape.n_heads / HEADS;
    // Uniform across the workgroup, so the barriers below stay in uniform control flow.
    let in_grid = linear < step.n_tokens * per_token;
    let t = linear / per_token;
    // The workgroup's first query head; HEADS divides the heads per KV head, so all of its
    // heads read KV head `first / (n_heads / n_kv_heads)`.
    let first = (linear % per_token) * HEADS;
    let hd = shape.head_dim;
    // Element of vec4 `lane` of the workgroup's first head; d adds 16 per vec4 of a lane.
    let q_at = select(0u, (t * shape.n_heads + first) * hd, in_grid) + 4u * lane;
    let row = shape.n_kv_heads * hd;
    let kv_at = first / (shape.n_heads / shape.n_kv_heads) * hd + 4u * lane;
    let n_pos = select(0u, step.start_pos + t + 1u, in_grid);
    // each d {
    let q_g_d = q4(q_at + g * hd + 4u * d) * shape.scale; // each g
    var a_g_d = vec4<f32>(0.0); // each g
    // }
    var m_g = LOWEST; // each g
    var l_g = 0.0; // each g
    for (var p = 0u; p < n_pos; p++) {
        let kb = p * row + kv_at;
        var part_g = 0.0; // each g
        // each d {
        let k_d = k4(kb + 4u * d);
        part_g += dot(q_g_d, k_d); // each g
        // }
        parts[g * WG + lane] = part_g; // each g
        workgroupBarrier();
        let s_g = parts[g * WG] + parts[g * WG + 1u] + parts[g * WG + 2u] + parts[g * WG + 3u]; // each g
        // parts is rewritten for the next position.
        workgroupBarrier();
        // One exp per position and head: e = exp(-|s - m|) rescales the old state when s is
        // the new max, and weighs the position otherwise.
        let e_g = exp(-abs(s_g - m_g)); // each g
        let grows_g = s_g > m_g; // each g
        let corr_g = select(1.0, e_g, grows_g); // each g
        let w_g = select(e_g, 1.0, grows_g); // each g
        m_g = max(m_g, s_g); // each g
        l_g = l_g * corr_g + w_g; // each g
        // each d {
        let v_d = v4(kb + 4u * d);
        a_g_d = a_g_d * corr_g + w_g * v_d; // each g
        // }
    }
    if (!in_grid) {
        return;
    }
    // each d {
    store4(q_at + g * hd + 4u * d, a_g_d / l_g); // each g
    // }
}

fn store4(i: u32, o: vec4<f32>) {
    out[i] = o.x;
    out[i + 1u] = o.y;
    out[i + 2u] = o.z;
    out[i + 3u] = o.w;
}
