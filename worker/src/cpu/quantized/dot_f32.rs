//! Dot product of two f32 vectors: the inner loop of F32 weights and of prefill (a dequantized
//! weight row against each token's input).

/// `Σ a[i]·b[i]`.
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    #[cfg(target_arch = "wasm32")]
    {
        simd::dot(a, b)
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        crate::cpu::ops::dot(a, b)
    }
}

#[cfg(target_arch = "wasm32")]
pub(super) mod simd {
    use core::arch::wasm32::*;

    /// Four f32x4 accumulators over 16 lanes at a time, then the tail.
    #[target_feature(enable = "simd128")]
    pub fn dot(a: &[f32], b: &[f32]) -> f32 {
        assert_eq!(a.len(), b.len(), "dot of different lengths");
        let n = a.len() / 16 * 16;
        let mut acc = [f32x4_splat(0.0); 4];
        for (ca, cb) in a[..n].chunks_exact(16).zip(b[..n].chunks_exact(16)) {
            for (l, acc) in acc.iter_mut().enumerate() {
                let x = load(&ca[4 * l..4 * l + 4]);
                let y = load(&cb[4 * l..4 * l + 4]);
                *acc = f32x4_add(*acc, f32x4_mul(x, y));
            }
        }
        let mut tail = 0.0f32;
        for (x, y) in a[n..].iter().zip(&b[n..]) {
            tail += x * y;
        }
        sum(f32x4_add(
            f32x4_add(acc[0], acc[1]),
            f32x4_add(acc[2], acc[3]),
        )) + tail
    }

    /// Four f32 from a slice of exactly four.
    #[target_feature(enable = "simd128")]
    #[inline]
    pub fn load(x: &[f32]) -> v128 {
        assert!(x.len() >= 4);
        // SAFETY: the slice holds at least 16 bytes; wasm loads need no alignment.
        unsafe { v128_load(x.as_ptr().cast::<v128>()) }
    }

    /// The sum of the four lanes.
    #[target_feature(enable = "simd128")]
    #[inline]
    pub fn sum(v: v128) -> f32 {
        (f32x4_extract_lane::<0>(v) + f32x4_extract_lane::<1>(v))
            + (f32x4_extract_lane::<2>(v) + f32x4_extract_lane::<3>(v))
    }
}
