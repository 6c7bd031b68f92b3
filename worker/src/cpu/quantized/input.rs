//! A matrix product's input quantized to 8 bits the way ggml does for its CPU dot products:
//! blocks of 32 values, each with an f32 scale `d = max|x| / 127` and `q = round(x / d)`. The
//! dot products then multiply 8-bit integers (four times as many per SIMD instruction as f32)
//! at the cost of about 0.4% relative error per input value.

/// `x` in blocks of 32: `scales[b]` and `qs[32b..32b+32]`.
#[derive(Clone, Debug, Default)]
pub struct QuantizedInput {
    pub scales: Vec<f32>,
    pub qs: Vec<i8>,
}

impl QuantizedInput {
    /// Values per block (Q8_0's block; a Q6_K group of 16 lies inside one).
    pub const BLOCK: usize = 32;

    /// Quantizes `x`, whose length is a multiple of 32.
    pub fn new(x: &[f32]) -> Self {
        assert!(
            x.len().is_multiple_of(Self::BLOCK),
            "input is not whole blocks"
        );
        let mut scales = Vec::with_capacity(x.len() / Self::BLOCK);
        let mut qs = Vec::with_capacity(x.len());
        for block in x.chunks_exact(Self::BLOCK) {
            let max = block.iter().fold(0f32, |m, v| m.max(v.abs()));
            let d = max / 127.0;
            let inverse = if d > 0.0 { 1.0 / d } else { 0.0 };
            scales.push(d);
            qs.extend(block.iter().map(|v| (v * inverse).round() as i8));
        }
        Self { scales, qs }
    }

    pub fn len(&self) -> usize {
        self.qs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.qs.is_empty()
    }
}

/// How a CPU matrix product treats its input.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum InputPrecision {
    /// f32: results equal the f32 reference up to the order of additions.
    #[default]
    F32,
    /// 8-bit blocks for Q6_K and Q8_0 weights (llama.cpp's CPU arithmetic): faster, with
    /// logits off by a few thousandths.
    Int8,
}
