// Q8_0: 34-byte blocks of 32 weights: f16 d, then 32 i8 q; w = d·q. Blocks alternate 4- and
// 2-byte alignment.
const BLOCK_WEIGHTS: u32 = 32u;
const BLOCK_BYTES: u32 = 34u;

fn dequant16(b: u32, c: u32) -> array<vec4<f32>, 4> {
    let d = load_f16(b);
    let qs = b + 2u + 16u * c;
    var out: array<vec4<f32>, 4>;
    for (var j = 0u; j < 4u; j++) {
        out[j] = d * sbytes4(load_u32(qs + 4u * j));
    }
    return out;
}
