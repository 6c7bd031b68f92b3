// Q6_K rows times x on software adapters (SwiftShader, lavapipe), for rows holding an even
// number of blocks: the core of gemv_rows_q6_k.wgsl and gemm_rows_q6_k.wgsl, which define `W`,
// `WG` and `x4(i)` (4 floats of x from element i). Concatenated after byte_lanes.wgsl. Why it is written this way (gathers,
// per-lane shifts): see gemv_rows_q8_0.wgsl.
//
// An invocation computes 4 rows (8 spill registers in SwiftShader and are slower). Two
// 210-byte blocks are 105 aligned words. Block 0 is aligned: ql in words 0..31, qh in 32..47,
// scales in 48..51, d in the low half of word 52. Block 1 starts 2 bytes into word 52, so its
// "logical" word t (bytes 4t..4t+3 of a field) is lanes 2, 3 of a source word and lanes 0, 1 of
// the next: reading it costs one more word per field, and the lane masks and x scales rotate.
//
// Weight 128h + 32k + l of a block (half h, quarter k, l < 32) is
//   q = (nibble k/2 of ql[64h + 32(k%2) + l]) | (bits 2k, 2k+1 of qh[32h + l]) << 4,
//   w = d · scales[8h + 2k + l/16] · (q − 32).
// For 4 consecutive l, k = 0 and 1 assemble q per byte with masks, a multiply for the shift
// left and an or; k = 2 and 3 take the high nibbles and the high bits as two separate lane sets
// (nothing shifts right), and x is scaled to match. A byte lane holding bit 31 would convert
// as negative, so where a mask reaches it the word's bit 31 is flipped first and the offset
// that makes (−8 for the nibble, −2 for the k = 3 high bits) is added back with Σx.

const ROWS: u32 = 4u;
const BIT31 = vec4<u32>(0x80000000u);

// Lane layout of a block's logical words: byte masks, x scales (256^-source lane) and which
// logical lane holds the source word's bit 31.
struct Lanes {
    mask: vec4<u32>,
    scale: vec4<f32>,
    top: vec4<f32>,
}

fn block_lanes(odd: bool) -> Lanes {
    if (odd) {
        return Lanes(LANE_MASK.zwxy, LANE_SCALE.zwxy, vec4<f32>(0.0, 1.0, 0.0, 0.0));
    }
    return Lanes(LANE_MASK, LANE_SCALE, vec4<f32>(0.0, 0.0, 0.0, 1.0));
}

// The logical word made of source words lo (lanes 0, 1 ← its lanes 2, 3 in odd blocks) and hi,
// masked per lane with m, as f32.
fn split(lo: u32, hi: u32, m: vec4<u32>) -> vec4<f32> {
    return vec4<f32>(bitcast<vec4<i32>>(vec4<u32>(lo, lo, hi, hi) & m));
}

// For 4 rows: dot(split(lo, hi, m), xs).
fn dots(lo: vec4<u32>, hi: vec4<u32>, m: vec4<u32>, xs: vec4<f32>) -> vec4<f32> {
    return vec4<f32>(
        dot(split(lo.x, hi.x, m), xs),
        dot(split(lo.y, hi.y, m), xs),
        dot(split(lo.z, hi.z, m), xs),
        dot(split(lo.w, hi.w, m), xs),
    );
}

// Word `at` of four rows starting at word offsets `rows`.
fn words(rows: vec4<u32>, at: u32) -> vec4<u32> {
    return vec4<u32>(W[rows.x + at], W[rows.y + at], W[rows.z + at], W[rows.w + at]);
}

fn sum4(v: vec4<f32>) -> f32 {
    return v.x + v.y + v.z + v.w;
}

// The 4 signed scale bytes of a logical word.
fn scale_bytes(lo: u32, hi: u32, l: Lanes) -> vec4<f32> {
    let biased = split(lo ^ 0x00808080u, hi ^ 0x00808080u, l.mask) * l.scale;
    return biased - 128.0 * (vec4<f32>(1.0) - l.top);
}

// Per-row partial sums of the four quarters over 16 weights.
struct Quarters {
    k0: vec4<f32>,
    k1: vec4<f32>,
    k2: vec4<f32>,
    k3: vec4<f32>,
}

// The 4 rows at word offsets `rows` (each `row_words` long) times the x starting at element
// `x_base`.
fn q6_k_rows4(rows: vec4<u32>, row_words: u32, x_base: u32) -> vec4<f32> {
    var acc = vec4<f32>(0.0);
    var xb = x_base;
    for (var pair = 0u; pair < row_words; pair += 105u) {
        for (var b = 0u; b < 2u; b++) {
            let odd = b == 1u;
            let l = block_lanes(odd);
            let ql = pair + select(0u, 52u, odd);
            let qh = ql + 32u;
            let sc = ql + 48u;
            let hi_step = select(0u, 1u, odd);
            let dw = words(rows, pair + select(52u, 104u, odd));
            var d: vec4<f32>;
            if (odd) {
                d = vec4<f32>(unpack2x16float(dw.x).y, unpack2x16float(dw.y).y, unpack2x16float(dw.z).y, unpack2x16float(dw.w).y);
            } else {
                d = vec4<f32>(unpack2x16float(dw.x).x, unpack2x16float(dw.y).x, unpack2x16float(dw.z).x, unpack2x16float(dw.w).x);
            }
            let m_high_nibble = l.mask & vec4<u32>(0xF0F0F0F0u);
            let m_bits45 = l.mask & vec4<u32>(0x30303030u);
            let m_bits67 = l.mask & vec4<u32>(0xC0C0C0C0u);
            for (var h = 0u; h < 2u; h++) {
                // scales[8h .. 8h+3] = (k0, l<16), (k0, l≥16), (k1, ..), (k1, ..); then k2, k3.
                let s01lo = words(rows, sc + 2u * h);
                let s01hi = words(rows, sc + 2u * h + hi_step);
                let s23lo = words(rows, sc + 2u * h + 1u);
                let s23hi = words(rows, sc + 2u * h + 1u + hi_step);
                let s01x = scale_bytes(s01lo.x, s01hi.x, l);
                let s01y = scale_bytes(s01lo.y, s01hi.y, l);
                let s01z = scale_bytes(s01lo.z, s01hi.z, l);
                let s01w = scale_bytes(s01lo.w, s01hi.w, l);
                let s23x = scale_bytes(s23lo.x, s23hi.x, l);
                let s23y = scale_bytes(s23lo.y, s23hi.y, l);
                let s23z = scale_bytes(s23lo.z, s23hi.z, l);
                let s23w = scale_bytes(s23lo.w, s23hi.w, l);
                for (var sub = 0u; sub < 2u; sub++) {
                    var s = Quarters(vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0), vec4<f32>(0.0));
                    // Σ over these 16 weights of x · (−32 + the bit-31 offsets), per quarter.
                    var bias = vec4<f32>(0.0);
                    for (var t = 4u * sub; t < 4u * sub + 4u; t++) {
                        let a_lo = words(rows, ql + 16u * h + t);
                        let b_lo = words(rows, ql + 16u * h + 8u + t);
                        let h_lo = words(rows, qh + 8u * h + t);
                        var a_hi = a_lo;
                        var b_hi = b_lo;
                        var h_hi = h_lo;
                        if (odd) {
                            a_hi = words(rows, ql + 16u * h + t + 1u);
                            b_hi = words(rows, ql + 16u * h + 8u + t + 1u);
                            h_hi = words(rows, qh + 8u * h + t + 1u);
                        }
                        let xi = xb + 128u * h + 4u * t;
                        let x0 = x4(xi);
                        let x1 = x4(xi + 32u);
                        let x2 = x4(xi + 64u);
                        let x3 = x4(xi + 96u);
                        bias += vec4<f32>(
                            -32.0 * sum4(x0),
                            -32.0 * sum4(x1),
                            -32.0 * sum4(x2) + 8.0 * dot(x2, l.top),
                            -32.0 * sum4(x3) + 40.0 * dot(x3, l.top),
                        );
                        let q0lo = (a_lo & vec4<u32>(0x0F0F0F0Fu)) | ((h_lo & vec4<u32>(0x03030303u)) * 16u);
                        let q0hi = (a_hi & vec4<u32>(0x0F0F0F0Fu)) | ((h_hi & vec4<u32>(0x03030303u)) * 16u);
                        let q1lo = (b_lo & vec4<u32>(0x0F0F0F0Fu)) | ((h_lo & vec4<u32>(0x0C0C0C0Cu)) * 4u);
                        let q1hi = (b_hi & vec4<u32>(0x0F0F0F0Fu)) | ((h_hi & vec4<u32>(0x0C0C0C0Cu)) * 4u);
                        let xs2 = x2 * l.scale;
                        let xs3 = x3 * l.scale;
                        s.k0 += dots(q0lo, q0hi, l.mask, x0 * l.scale);
                        s.k1 += dots(q1lo, q1hi, l.mask, x1 * l.scale);
                        s.k2 += dots(a_lo ^ BIT31, a_hi ^ BIT31, m_high_nibble, xs2 * 0.0625)
                            + dots(h_lo, h_hi, m_bits45, xs2);
                        s.k3 += dots(b_lo ^ BIT31, b_hi ^ BIT31, m_high_nibble, xs3 * 0.0625)
                            + dots(h_lo ^ BIT31, h_hi ^ BIT31, m_bits67, xs3 * 0.25);
                    }
                    let sc0 = vec4<f32>(s01x[sub], s01y[sub], s01z[sub], s01w[sub]);
                    let sc1 = vec4<f32>(s01x[sub + 2u], s01y[sub + 2u], s01z[sub + 2u], s01w[sub + 2u]);
                    let sc2 = vec4<f32>(s23x[sub], s23y[sub], s23z[sub], s23w[sub]);
                    let sc3 = vec4<f32>(s23x[sub + 2u], s23y[sub + 2u], s23z[sub + 2u], s23w[sub + 2u]);
                    acc += d * (sc0 * (s.k0 + bias.x) + sc1 * (s.k1 + bias.y)
                        + sc2 * (s.k2 + bias.z) + sc3 * (s.k3 + bias.w));
                }
            }
            xb += 256u;
        }
    }
    return acc;
}
