// Q6_K: 210-byte super-blocks of 256 weights: ql[128], qh[64], i8 scales[16], f16 d.
// Chunk c (16 weights, one scale) lies in half h = c / 8, quarter k = (c % 8) / 2, at
// l0 = 16·(c % 2): weight l0 + i takes nibble k / 2 of ql[64h + 32·(k % 2) + l0 + i] and bits
// 2k, 2k+1 of qh[32h + l0 + i]; w = d·scales[c]·(q − 32). Blocks alternate 4- and 2-byte
// alignment.
const BLOCK_WEIGHTS: u32 = 256u;
const BLOCK_BYTES: u32 = 210u;

fn dequant16(b: u32, c: u32) -> array<vec4<f32>, 4> {
    let h = c / 8u;
    let k = (c % 8u) / 2u;
    let l0 = 16u * (c % 2u);
    let ql = b + 64u * h + 32u * (k % 2u) + l0;
    let qh = b + 128u + 32u * h + l0;
    let sc = bitcast<i32>(load_u8(b + 192u + c) << 24u) >> 24u;
    let d = load_f16(b + 208u) * f32(sc);
    var out: array<vec4<f32>, 4>;
    for (var j = 0u; j < 4u; j++) {
        let lo = (load_u32(ql + 4u * j) >> (4u * (k / 2u))) & 0x0F0F0F0Fu;
        let hi = ((load_u32(qh + 4u * j) >> (2u * k)) & 0x03030303u) << 4u;
        out[j] = d * bytes4_less(lo | hi, 32.0);
    }
    return out;
}
