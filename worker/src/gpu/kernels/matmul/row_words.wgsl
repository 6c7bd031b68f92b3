// The typed row kernels' reads of a storage-buffer weight part (gemv_rows_q8_0_words.wgsl,
// gemm_rows_q8_0_words.wgsl, gemv_rows_q6_k_bytes.wgsl, gemm_rows_q6_k_bytes.wgsl): a word of
// 4 rows at a time. Concatenated with the kernel's io file and byte_lanes.wgsl.

@group(0) @binding(0) var<storage, read> W: array<u32>;

// Signed bytes stored as b + 128 in bytes 0..2 and as b in byte 3 (Q8_0 quants): the 128 is
// taken off once per block with Σx over these lanes.
const BIASED_LANES = vec4<f32>(1.0, 1.0, 1.0, 0.0);

// Word `at` of the four rows that start at word offsets `rows` of the weight part.
fn words(rows: vec4<u32>, at: u32) -> vec4<u32> {
    return vec4<u32>(W[rows.x + at], W[rows.y + at], W[rows.z + at], W[rows.w + at]);
}

// The word offsets of an invocation's 16 rows, 4 to a group (the typed kernels take 16 rows:
// every x read, a gather on a CPU driver, then serves 16 rows).
struct Rows16 {
    a: vec4<u32>,
    b: vec4<u32>,
    c: vec4<u32>,
    d: vec4<u32>,
}

// Rows first..first+15 of a part of `rows` rows, each `row_words` long. Rows past the end read
// the last row again (and are not stored).
fn rows16(first: u32, rows: u32, row_words: u32) -> Rows16 {
    let last = vec4<u32>(rows - 1u);
    let r = vec4<u32>(first) + vec4<u32>(0u, 1u, 2u, 3u);
    return Rows16(
        min(r, last) * row_words,
        min(r + 4u, last) * row_words,
        min(r + 8u, last) * row_words,
        min(r + 12u, last) * row_words,
    );
}
