//! The Llama operations in plain f32 Rust: the CPU twins the GPU kernels are tested against.
//!
//! Layouts are GGUF's: a weight matrix is row-major `[rows][cols]` with `ne[0] = cols` (the row
//! length); a KV cache holds, per position, `n_kv_heads × head_dim` values.
//!
//! Lengths are the caller's contract (the model validates every shape when it loads), so a
//! mismatch here is a bug and panics with the sizes involved.

/// Dot product with eight running f32 partial sums (then summed pairwise). Eight independent
/// sums keep the loop fast without SIMD intrinsics; the result differs from a single running
/// sum only by rounding.
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "dot of different lengths");
    let mut acc = [0.0f32; 8];
    let chunks = a.len() / 8 * 8;
    for (ca, cb) in a[..chunks].chunks_exact(8).zip(b[..chunks].chunks_exact(8)) {
        for l in 0..8 {
            acc[l] += ca[l] * cb[l];
        }
    }
    let mut tail = 0.0f32;
    for (x, y) in a[chunks..].iter().zip(&b[chunks..]) {
        tail += x * y;
    }
    ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7])) + tail
}

/// `y = W · x` for `W` row-major `[rows][cols]` (GGUF `ne[0] = cols`).
pub fn matvec(w: &[f32], rows: usize, cols: usize, x: &[f32]) -> Vec<f32> {
    assert_eq!(w.len(), rows * cols, "matrix is not {rows}×{cols}");
    assert_eq!(x.len(), cols, "vector length is not the row length {cols}");
    w.chunks_exact(cols).map(|row| dot(row, x)).collect()
}

/// `matvec` for several vectors at once (`xs` holds `n = xs.len() / cols` of them, one after
/// another); returns `n` outputs of `rows`, one after another. Same arithmetic as `matvec`, but
/// each weight row is read once for all vectors.
pub fn matmul(w: &[f32], rows: usize, cols: usize, xs: &[f32]) -> Vec<f32> {
    assert_eq!(w.len(), rows * cols, "matrix is not {rows}×{cols}");
    assert!(
        cols > 0 && xs.len().is_multiple_of(cols),
        "inputs are not whole vectors of {cols}"
    );
    let n = xs.len() / cols;
    let mut out = vec![0.0; n * rows];
    for (r, row) in w.chunks_exact(cols).enumerate() {
        for (t, x) in xs.chunks_exact(cols).enumerate() {
            out[t * rows + r] = dot(row, x);
        }
    }
    out
}

/// RMSNorm: `x / sqrt(mean(x²) + eps) · w`.
pub fn rmsnorm(x: &[f32], w: &[f32], eps: f32) -> Vec<f32> {
    assert_eq!(x.len(), w.len(), "rmsnorm weight length");
    let mean_square = dot(x, x) / x.len() as f32;
    let scale = 1.0 / (mean_square + eps).sqrt();
    x.iter().zip(w).map(|(v, g)| v * scale * g).collect()
}

/// The rotation angle per pair of a head: `base^(−2i/rope_dims) / freq_factors[i]`, to be
/// multiplied by the position.
pub fn rope_frequencies(base: f32, rope_dims: usize, freq_factors: Option<&[f32]>) -> Vec<f32> {
    (0..rope_dims / 2)
        .map(|i| {
            let f = base.powf(-2.0 * i as f32 / rope_dims as f32);
            match freq_factors {
                Some(ff) => f / ff[i],
                None => f,
            }
        })
        .collect()
}

/// RoPE as GGUF llama applies it: in each head, adjacent pairs `(2i, 2i+1)` for
/// `2i < rope_dims` are rotated by `θ_i = pos · base^(−2i/rope_dims) / freq_factors[i]`;
/// dims from `rope_dims` on are left alone. `x` holds `n_heads` heads of `head_dim`.
pub fn rope_in_place(
    x: &mut [f32],
    n_heads: usize,
    head_dim: usize,
    pos: usize,
    base: f32,
    rope_dims: usize,
    freq_factors: Option<&[f32]>,
) {
    assert_eq!(
        x.len(),
        n_heads * head_dim,
        "rope input is not {n_heads} heads"
    );
    assert!(rope_dims <= head_dim && rope_dims.is_multiple_of(2));
    if let Some(ff) = freq_factors {
        assert!(ff.len() >= rope_dims / 2, "too few RoPE frequency factors");
    }
    let freqs = rope_frequencies(base, rope_dims, freq_factors);
    for head in x.chunks_exact_mut(head_dim) {
        for (i, f) in freqs.iter().enumerate() {
            let theta = pos as f32 * f;
            let (sin, cos) = theta.sin_cos();
            let (a, b) = (head[2 * i], head[2 * i + 1]);
            head[2 * i] = a * cos - b * sin;
            head[2 * i + 1] = a * sin + b * cos;
        }
    }
}

/// Softmax with the maximum subtracted first.
pub fn softmax_in_place(x: &mut [f32]) {
    let max = x.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0.0f32;
    for v in x.iter_mut() {
        *v = (*v - max).exp();
        sum += *v;
    }
    for v in x.iter_mut() {
        *v /= sum;
    }
}

/// `silu(x) = x · sigmoid(x)`.
pub fn silu(x: f32) -> f32 {
    x / (1.0 + (-x).exp())
}

/// SwiGLU's elementwise step: `silu(gate) · up`.
pub fn silu_mul(gate: &[f32], up: &[f32]) -> Vec<f32> {
    assert_eq!(gate.len(), up.len(), "silu_mul lengths");
    gate.iter().zip(up).map(|(&g, &u)| silu(g) * u).collect()
}

/// Grouped-query attention of one query position over the first `seq_len` cached positions.
/// `q` holds `n_heads` heads of `head_dim`; each cache holds per position `n_kv_heads` heads.
/// Query head `h` reads KV head `h / (n_heads / n_kv_heads)`. Scores are scaled by
/// `1/sqrt(head_dim)`. Returns the `n_heads × head_dim` outputs. No mask: the caller passes
/// exactly the positions this query may see.
pub fn attention(
    q: &[f32],
    k_cache: &[f32],
    v_cache: &[f32],
    n_heads: usize,
    n_kv_heads: usize,
    head_dim: usize,
    seq_len: usize,
) -> Vec<f32> {
    let kv_dim = n_kv_heads * head_dim;
    assert_eq!(q.len(), n_heads * head_dim, "query length");
    assert!(n_kv_heads > 0 && n_heads.is_multiple_of(n_kv_heads));
    assert!(k_cache.len() >= seq_len * kv_dim && v_cache.len() >= seq_len * kv_dim);
    let group = n_heads / n_kv_heads;
    let scale = 1.0 / (head_dim as f32).sqrt();
    let mut out = vec![0.0f32; n_heads * head_dim];
    let mut scores = vec![0.0f32; seq_len];
    for h in 0..n_heads {
        let kv = h / group;
        let qh = &q[h * head_dim..(h + 1) * head_dim];
        for (p, s) in scores.iter_mut().enumerate() {
            let k = &k_cache[p * kv_dim + kv * head_dim..][..head_dim];
            *s = dot(qh, k) * scale;
        }
        softmax_in_place(&mut scores);
        let oh = &mut out[h * head_dim..(h + 1) * head_dim];
        for (p, &w) in scores.iter().enumerate() {
            let v = &v_cache[p * kv_dim + kv * head_dim..][..head_dim];
            for (o, &x) in oh.iter_mut().zip(v) {
                *o += w * x;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: &[f32], b: &[f32], tol: f32) {
        assert_eq!(a.len(), b.len());
        for (i, (x, y)) in a.iter().zip(b).enumerate() {
            assert!((x - y).abs() <= tol, "[{i}] {x} vs {y}");
        }
    }

    #[test]
    fn matvec_uses_rows_of_ne0() {
        // 2 rows of 3: [[1,2,3],[4,5,6]].
        let w = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        assert_eq!(matvec(&w, 2, 3, &[1.0, 0.0, -1.0]), [-2.0, -2.0]);
        let many = matmul(&w, 2, 3, &[1.0, 0.0, -1.0, 0.0, 1.0, 0.0]);
        assert_eq!(many, [-2.0, -2.0, 2.0, 5.0]);
    }

    #[test]
    fn dot_handles_tails() {
        let a: Vec<f32> = (0..19).map(|i| i as f32).collect();
        let want: f32 = a.iter().map(|x| x * x).sum();
        assert_eq!(dot(&a, &a), want);
    }

    #[test]
    fn rmsnorm_matches_definition() {
        let y = rmsnorm(&[3.0, 4.0], &[1.0, 2.0], 0.0);
        let rms = (12.5f32).sqrt();
        close(&y, &[3.0 / rms, 8.0 / rms], 1e-6);
    }

    #[test]
    fn rope_rotates_adjacent_pairs() {
        // One head of 6 dims, 4 rotated: pair 0 at base^0 = 1 rad per position, pair 1 at
        // 100^(-1/2) = 0.1, dims 4 and 5 untouched.
        let mut x = vec![1.0, 0.0, 0.0, 1.0, 7.0, 8.0];
        rope_in_place(&mut x, 1, 6, 2, 100.0, 4, None);
        let (s0, c0) = 2.0f32.sin_cos();
        let (s1, c1) = 0.2f32.sin_cos();
        close(&x, &[c0, s0, -s1, c1, 7.0, 8.0], 1e-6);
        // Frequency factors divide the angle.
        let mut y = vec![1.0, 0.0, 1.0, 0.0];
        rope_in_place(&mut y, 1, 4, 3, 100.0, 4, Some(&[2.0, 4.0]));
        close(
            &y,
            &[1.5f32.cos(), 1.5f32.sin(), 0.075f32.cos(), 0.075f32.sin()],
            1e-6,
        );
        // Position 0 is the identity.
        let mut z = vec![0.3, -0.7, 2.0, 5.0];
        rope_in_place(&mut z, 2, 2, 0, 10000.0, 2, None);
        assert_eq!(z, [0.3, -0.7, 2.0, 5.0]);
    }

    #[test]
    fn softmax_and_silu() {
        let mut x = [1000.0, 1000.0];
        softmax_in_place(&mut x);
        assert_eq!(x, [0.5, 0.5]);
        assert_eq!(silu(0.0), 0.0);
        close(
            &silu_mul(&[1.0, -2.0], &[2.0, 1.0]),
            &[2.0 * 0.731_058_6, -0.238_405_85],
            1e-6,
        );
    }

    #[test]
    fn attention_groups_query_heads_onto_kv_heads() {
        // 2 query heads share 1 KV head of dim 2; 2 positions.
        let k = [1.0, 0.0, 0.0, 1.0];
        let v = [10.0, 0.0, 0.0, 20.0];
        let q = [2.0, 0.0, 0.0, 0.0];
        let out = attention(&q, &k, &v, 2, 1, 2, 2);
        // Head 0: scores (2/√2, 0); head 1: equal scores.
        let s = (2.0f32 / 2.0f32.sqrt()).exp();
        let (p0, p1) = (s / (s + 1.0), 1.0 / (s + 1.0));
        close(&out, &[10.0 * p0, 20.0 * p1, 5.0, 10.0], 1e-5);
        // Only the first position: the output is its value.
        assert_eq!(attention(&q, &k, &v, 2, 1, 2, 1), [10.0, 0.0, 10.0, 0.0]);
    }
}
