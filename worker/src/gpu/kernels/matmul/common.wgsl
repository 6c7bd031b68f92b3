// The weight part `W` as a storage buffer, and byte-addressed reads of it. GGUF blocks need not be 4-byte aligned (Q6_K blocks are
// 210 bytes, Q8_0 34), so every read goes through these helpers. The part's size is padded to a
// multiple of 4, so the word after an unaligned read's first word always exists.
//
// Every dequantizer snippet defines:
//   const BLOCK_WEIGHTS: u32;   // weights per GGUF block (16 for the float types)
//   const BLOCK_BYTES: u32;     // bytes per block
//   fn dequant16(b: u32, c: u32) -> array<vec4<f32>, 4>
//     // weights 16c .. 16c+16 of the block starting at byte b, in row order

@group(0) @binding(0) var<storage, read> W: array<u32>;

// Called first by kernels that may also read row quads (row_quads.wgsl), with a row's words;
// nothing to do here.
fn start_weights(row_words: u32) {}

fn load_u32(off: u32) -> u32 {
    let w = off >> 2u;
    let s = (off & 3u) * 8u;
    if (s == 0u) {
        return W[w];
    }
    return (W[w] >> s) | (W[w + 1u] << (32u - s));
}

// The 16-bit value at an even byte offset, in the low half.
fn load_u16(off: u32) -> u32 {
    return (W[off >> 2u] >> ((off & 2u) * 8u)) & 0xFFFFu;
}

fn load_u8(off: u32) -> u32 {
    return (W[off >> 2u] >> ((off & 3u) * 8u)) & 0xFFu;
}

// An f16 at an even byte offset (shader-f16 may be absent: unpack2x16float is core WGSL).
fn load_f16(off: u32) -> f32 {
    return unpack2x16float(load_u16(off)).x;
}
