// Q4_0: 18-byte blocks of 32 weights: f16 d, 16 bytes of nibbles; weight j < 16 is the low
// nibble of byte j, weight 16 + j the high nibble; w = d·(q − 8).
const BLOCK_WEIGHTS: u32 = 32u;
const BLOCK_BYTES: u32 = 18u;

fn dequant16(b: u32, c: u32) -> array<vec4<f32>, 4> {
    let d = load_f16(b);
    var out: array<vec4<f32>, 4>;
    for (var j = 0u; j < 4u; j++) {
        let q = (load_u32(b + 2u + 4u * j) >> (4u * c)) & 0x0F0F0F0Fu;
        out[j] = d * bytes4_less(q, 8.0);
    }
    return out;
}
