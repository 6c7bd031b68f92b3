// Q6_K in WeightEncoding::Q6KLanes (gpu/weight_encoding.rs): 53-word super-blocks of 256
// weights, every read a whole aligned word. Chunk c (16 weights, one scale) lies in half
// h = c / 8, quarter k = (c % 8) / 2, at l0 = 16·(c % 2): its weights' ql bytes are word k % 2,
// and their qh bytes word 2, of lanes 8h + l0 / 4 .. + 3 (3 words a lane); scales[c] is byte k
// of word 48 + 2h + c % 2; d is word 52's low half. w = d·scale·(q − 32).
const BLOCK_WEIGHTS: u32 = 256u;
const BLOCK_BYTES: u32 = 212u;

fn dequant16(b: u32, c: u32) -> array<vec4<f32>, 4> {
    let w = b / 4u;
    let h = c / 8u;
    let k = (c % 8u) / 2u;
    let lane = 8u * h + 4u * (c % 2u);
    let sc = bitcast<i32>(W[w + 48u + 2u * h + c % 2u] << (24u - 8u * k)) >> 24u;
    let d = unpack2x16float(W[w + 52u]).x * f32(sc);
    var out: array<vec4<f32>, 4>;
    for (var j = 0u; j < 4u; j++) {
        let at = w + 3u * (lane + j);
        let lo = (W[at + k % 2u] >> (4u * (k / 2u))) & 0x0F0F0F0Fu;
        let hi = ((W[at + 2u] >> (2u * k)) & 0x03030303u) << 4u;
        out[j] = d * bytes4_less(lo | hi, 32.0);
    }
    return out;
}
