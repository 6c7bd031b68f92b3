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
// each lane's accumulators are its own dimensions of the output. The lanes take two positions
// at a time.
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

// Each lane's partial dot products with the two positions' K rows, per head: the first
// position's, then the second's.
var<workgroup> parts: array<f32, 2u * HEADS * WG>;

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
    // Two positions at a time, so that the two barriers around the exchange of partial dot
    // products serve both: a SmolLM2 layer on SwiftShader took 0.60–0.72 ms at 256 positions
    // and 0.19–0.27 at 64 so, 1.00–1.18 and 0.28–0.30 one position at a time (the same run).
    for (var p = 0u; p < n_pos; p += 2u) {
        // Past the last position (an odd count), the second is the first again, with no weight.
        let second = p + 1u < n_pos;
        let ka = p * row + kv_at;
        let kb = select(ka, ka + row, second);
        var pa_g = 0.0; // each g
        var pb_g = 0.0; // each g
        // each d {
        let ka_d = k4(ka + 4u * d);
        let kb_d = k4(kb + 4u * d);
        pa_g += dot(q_g_d, ka_d); // each g
        pb_g += dot(q_g_d, kb_d); // each g
        // }
        parts[g * WG + lane] = pa_g; // each g
        parts[(HEADS + g) * WG + lane] = pb_g; // each g
        workgroupBarrier();
        let sa_g = lanes_sum(g); // each g
        let sb_g = select(LOWEST, lanes_sum(HEADS + g), second); // each g
        // parts is rewritten for the next positions.
        workgroupBarrier();
        // The online softmax over both: m rises to the larger score, the old state is rescaled
        // by exp(m_old - m_new), and each position weighs exp(s - m_new).
        let top_g = max(m_g, max(sa_g, sb_g)); // each g
        let corr_g = exp(m_g - top_g); // each g
        let wa_g = exp(sa_g - top_g); // each g
        let wb_g = exp(sb_g - top_g); // each g
        m_g = top_g; // each g
        l_g = l_g * corr_g + wa_g + wb_g; // each g
        // each d {
        let va_d = v4(ka + 4u * d);
        let vb_d = v4(kb + 4u * d);
        a_g_d = a_g_d * corr_g + wa_g * va_d + wb_g * vb_d; // each g
        // }
    }
    if (!in_grid) {
        return;
    }
    // each d {
    store4(q_at + g * hd + 4u * d, a_g_d / l_g); // each g
    // }
}

// The sum of the lanes' partial dot products in row `at` of `parts` (at a constant index once
// unrolled: every lane reads the same 4 floats).
fn lanes_sum(at: u32) -> f32 {
    let i = at * WG;
    return parts[i] + parts[i + 1u] + parts[i + 2u] + parts[i + 3u];
}

fn store4(i: u32, o: vec4<f32>) {
    out[i] = o.x;
    out[i + 1u] = o.y;
    out[i + 2u] = o.z;
    out[i + 3u] = o.w;
}
