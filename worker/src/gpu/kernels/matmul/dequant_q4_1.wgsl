// Q4_1: 20-byte blocks of 32 weights: f16 d, f16 m, 16 bytes of nibbles (as Q4_0);
// w = d·q + m.
const BLOCK_WEIGHTS: u32 = 32u;
const BLOCK_BYTES: u32 = 20u;

fn dequant16(b: u32, c: u32) -> array<vec4<f32>, 4> {
    let d = load_f16(b);
    let m = load_f16(b + 2u);
    var out: array<vec4<f32>, 4>;
    for (var j = 0u; j < 4u; j++) {
        let q = (load_u32(b + 4u + 4u * j) >> (4u * c)) & 0x0F0F0F0Fu;
        out[j] = d * bytes4(q) + vec4<f32>(m);
    }
    return out;
}
