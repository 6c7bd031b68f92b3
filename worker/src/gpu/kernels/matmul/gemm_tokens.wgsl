// The typed GEMMs' 4 tokens (gemm_rows_q8_0_words.wgsl, gemm_rows_q6_k_bytes.wgsl): x of the tokens as
// the 4 columns of a mat4x4, one row's results as the 4 components of a vec4, so that a weight
// word is read and taken apart once for all 4. Concatenated after gemm_io.wgsl and
// byte_lanes.wgsl.

const TOKENS: u32 = 4u;

// The first quad (row_quads.wgsl) and first token of invocation `lane` of workgroup `group`
// (row tiles vary fastest), for workgroups of `size` invocations taking `rows` rows each, every
// 4 lanes (a CPU driver's SIMD register) taking 4·rows rows interleaved: lane j of them takes
// quads j, j + 4, ... (quads4). The quad is past the part's end when the invocation has nothing
// to do.
fn invocation_tile(group: u32, lane: u32, size: u32, rows: u32) -> vec2<u32> {
    let token_tiles = (p.n_tokens + TOKENS - 1u) / TOKENS;
    if (group >= p.row_tiles * token_tiles) {
        return vec2<u32>(p.rows, 0u);
    }
    let first = (group % p.row_tiles) * size * (rows / 4u) + (lane / 4u) * rows + lane % 4u;
    return vec2<u32>(first, (group / p.row_tiles) * TOKENS);
}

// A word's lanes (byte_lanes.wgsl) against each token's scaled x: one component per token.
fn token_dots(lanes: vec4<f32>, x: mat4x4<f32>) -> vec4<f32> {
    return vec4<f32>(dot(lanes, x[0]), dot(lanes, x[1]), dot(lanes, x[2]), dot(lanes, x[3]));
}

// Columns k..k+3 of the 4 tokens starting at element offsets `tokens`, one column of x per
// token.
fn xs4(tokens: vec4<u32>, k: u32) -> mat4x4<f32> {
    return mat4x4<f32>(x4(tokens.x + k), x4(tokens.y + k), x4(tokens.z + k), x4(tokens.w + k));
}

// Each token's x scaled to the byte lanes (LANE_SCALE).
fn scaled(x: mat4x4<f32>) -> mat4x4<f32> {
    return mat4x4<f32>(x[0] * LANE_SCALE, x[1] * LANE_SCALE, x[2] * LANE_SCALE, x[3] * LANE_SCALE);
}

// Σ of each token's 4 columns.
fn token_sums(x: mat4x4<f32>) -> vec4<f32> {
    let one = vec4<f32>(1.0);
    return vec4<f32>(dot(x[0], one), dot(x[1], one), dot(x[2], one), dot(x[3], one));
}

// Row `row` for the tile's tokens t0.. (one component each).
fn store(row: u32, t0: u32, v: vec4<f32>) {
    for (var j = 0u; j < TOKENS; j++) {
        store_y(t0 + j, row, v[j]);
    }
}

// Rows row..row+3 (column r of `v` for row + r).
fn store4(row: u32, t0: u32, v: mat4x4<f32>) {
    store(row, t0, v[0]);
    store(row + 1u, t0, v[1]);
    store(row + 2u, t0, v[2]);
    store(row + 3u, t0, v[3]);
}

// s + each of the 4 rows' words `w` against every token's scaled x (column r for w[r]).
fn add_dots(s: mat4x4<f32>, w: vec4<u32>, xs: mat4x4<f32>) -> mat4x4<f32> {
    return mat4x4<f32>(
        s[0] + token_dots(word_lanes(w.x), xs),
        s[1] + token_dots(word_lanes(w.y), xs),
        s[2] + token_dots(word_lanes(w.z), xs),
        s[3] + token_dots(word_lanes(w.w), xs),
    );
}

// acc + each row's sums less `offset` (per token), times its scale c.
fn add_scaled(acc: mat4x4<f32>, c: vec4<f32>, s: mat4x4<f32>, offset: vec4<f32>) -> mat4x4<f32> {
    return mat4x4<f32>(
        acc[0] + c.x * (s[0] - offset),
        acc[1] + c.y * (s[1] - offset),
        acc[2] + c.z * (s[2] - offset),
        acc[3] + c.w * (s[3] - offset),
    );
}
