// Q5_K: 176-byte super-blocks of 256 weights: f16 d, f16 dmin, 12 bytes of scales/mins (as
// Q4_K), qh[32], qs[128]. Sub-block s = chunks 2s, 2s+1: weight l of it is nibble s % 2 of
// qs[32·(s / 2) + l] plus 16 when bit s of qh[l] is set; w = d·sc_s·q − dmin·m_s.
const BLOCK_WEIGHTS: u32 = 256u;
const BLOCK_BYTES: u32 = 176u;

fn k_scale_min(q: u32, s: u32) -> vec2<f32> {
    if (s < 4u) {
        return vec2<f32>(f32(load_u8(q + s) & 63u), f32(load_u8(q + s + 4u) & 63u));
    }
    let sc = (load_u8(q + s + 4u) & 0xFu) | ((load_u8(q + s - 4u) >> 6u) << 4u);
    let m = (load_u8(q + s + 4u) >> 4u) | ((load_u8(q + s) >> 6u) << 4u);
    return vec2<f32>(f32(sc), f32(m));
}

fn dequant16(b: u32, c: u32) -> array<vec4<f32>, 4> {
    let s = c / 2u;
    let sm = k_scale_min(b + 4u, s);
    let d = load_f16(b) * sm.x;
    let m = load_f16(b + 2u) * sm.y;
    let l0 = 16u * (c % 2u);
    let qh = b + 16u + l0;
    let qs = b + 48u + 32u * (s / 2u) + l0;
    var out: array<vec4<f32>, 4>;
    for (var j = 0u; j < 4u; j++) {
        let lo = (load_u32(qs + 4u * j) >> (4u * (s % 2u))) & 0x0F0F0F0Fu;
        let hi = ((load_u32(qh + 4u * j) >> s) & 0x01010101u) << 4u;
        out[j] = d * bytes4(lo | hi) - vec4<f32>(m);
    }
    return out;
}
