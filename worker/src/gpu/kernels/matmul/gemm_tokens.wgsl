// The typed GEMMs' 4 tokens (gemm_rows_q8_0_words.wgsl, gemm_rows_q6_k_bytes.wgsl): x of the tokens as
// the 4 columns of a mat4x4, one row's results as the 4 components of a vec4, so that a weight
// word is read and taken apart once for all 4. Concatenated after gemm_io.wgsl and
// byte_lanes.wgsl.

const TOKENS: u32 = 4u;

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
