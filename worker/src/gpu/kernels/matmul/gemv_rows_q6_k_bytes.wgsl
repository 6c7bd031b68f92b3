// GEMV for decode on software adapters, Q6_K weights re-encoded at upload to one byte per level
// (gpu/weight_encoding.rs: 69-word blocks of 64 words of levels, 4 words of i8 scales, d as
// f32). Rebuilding 6-bit levels from nibbles and high bits cost more on a CPU driver than the
// 31% more memory this reads; per weight it runs about 2× faster on SwiftShader than the kernel
// on the GGUF bytes did. Concatenated after gemv_io.wgsl and byte_lanes.wgsl; what costs on a
// CPU driver is in gemv_rows_q8_0.wgsl's header.
//
// Each invocation computes 8 rows (every x read serves 8 rows). Per 16-weight sub-block, the
// levels are taken apart with masks like Q8_0's bytes (no shift; below 128, so no sign trick)
// and the −32 offset is applied once per sub-block as 32·Σx.

const WG: u32 = 8u;
const ROWS: u32 = 8u;
const BLOCK_WORDS: u32 = 69u;

fn dots(w: vec4<u32>, xs: vec4<f32>) -> vec4<f32> {
    return vec4<f32>(
        dot(unsigned_lanes(w.x), xs),
        dot(unsigned_lanes(w.y), xs),
        dot(unsigned_lanes(w.z), xs),
        dot(unsigned_lanes(w.w), xs),
    );
}

struct Rows8 {
    a: vec4<f32>,
    b: vec4<f32>,
}

// Σ (q − 32)·x over the 16 weights from word `at` of rows `ra` and `rb`, x from element `xi`.
fn sub_block(ra: vec4<u32>, rb: vec4<u32>, at: u32, xi: u32) -> Rows8 {
    var sa = vec4<f32>(0.0);
    var sb = vec4<f32>(0.0);
    var xsum = vec4<f32>(0.0);
    for (var j = 0u; j < 4u; j++) {
        let xr = x4(xi + 4u * j);
        xsum += xr;
        let xs = xr * LANE_SCALE;
        sa += dots(words(ra, at + j), xs);
        sb += dots(words(rb, at + j), xs);
    }
    let offset = 32.0 * (xsum.x + xsum.y + xsum.z + xsum.w);
    return Rows8(sa - offset, sb - offset);
}

@compute @workgroup_size(WG)
fn main(
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(local_invocation_index) lane: u32,
) {
    let first = ((wg.x + wg.y * groups.x) * WG + lane) * ROWS;
    if (first >= p.rows) {
        return;
    }
    let row_words = p.cols / 256u * BLOCK_WORDS;
    // Rows past the end read the last row again and are not stored.
    let last = vec4<u32>(p.rows - 1u);
    let ra = min(vec4<u32>(first) + vec4<u32>(0u, 1u, 2u, 3u), last) * row_words;
    let rb = min(vec4<u32>(first) + vec4<u32>(4u, 5u, 6u, 7u), last) * row_words;
    var acc_a = vec4<f32>(0.0);
    var acc_b = vec4<f32>(0.0);
    var xb = p.x_offset;
    for (var o = 0u; o < row_words; o += BLOCK_WORDS) {
        var block_a = vec4<f32>(0.0);
        var block_b = vec4<f32>(0.0);
        // Scale word s holds the scales of sub-blocks 4s..4s+3, one per byte.
        for (var s = 0u; s < 4u; s++) {
            let sca = words(ra, o + 64u + s);
            let scb = words(rb, o + 64u + s);
            let at = o + 16u * s;
            let xi = xb + 64u * s;
            let s0 = sub_block(ra, rb, at, xi);
            block_a += signed_bytes(sca, LANE_MASK.x, LANE_SCALE.x, 128.0) * s0.a;
            block_b += signed_bytes(scb, LANE_MASK.x, LANE_SCALE.x, 128.0) * s0.b;
            let s1 = sub_block(ra, rb, at + 4u, xi + 16u);
            block_a += signed_bytes(sca, LANE_MASK.y, LANE_SCALE.y, 128.0) * s1.a;
            block_b += signed_bytes(scb, LANE_MASK.y, LANE_SCALE.y, 128.0) * s1.b;
            let s2 = sub_block(ra, rb, at + 8u, xi + 32u);
            block_a += signed_bytes(sca, LANE_MASK.z, LANE_SCALE.z, 128.0) * s2.a;
            block_b += signed_bytes(scb, LANE_MASK.z, LANE_SCALE.z, 128.0) * s2.b;
            let s3 = sub_block(ra, rb, at + 12u, xi + 48u);
            block_a += signed_bytes(sca, LANE_MASK.w, LANE_SCALE.w, 0.0) * s3.a;
            block_b += signed_bytes(scb, LANE_MASK.w, LANE_SCALE.w, 0.0) * s3.b;
        }
        acc_a += bitcast<vec4<f32>>(words(ra, o + 68u)) * block_a;
        acc_b += bitcast<vec4<f32>>(words(rb, o + 68u)) * block_b;
        xb += 256u;
    }
    for (var r = 0u; r < 4u; r++) {
        store_y(first + r, acc_a[r]);
        store_y(first + 4u + r, acc_b[r]);
    }
}
