//! A weight matrix kept as its GGUF bytes: `rows` rows of `cols` weights, each row whole blocks.

use super::input::{InputPrecision, QuantizedInput};
use super::{dot_f32, dot_q6_k, dot_q8_0};
use crate::cpu::WeightMatrix;
use crate::gguf::GgmlType;
use crate::quant;
use std::borrow::Cow;

#[derive(Clone, Debug)]
pub struct QuantMatrix {
    ty: GgmlType,
    rows: usize,
    cols: usize,
    row_bytes: usize,
    data: Vec<u8>,
    precision: InputPrecision,
}

/// Why bytes cannot be a matrix of that shape and type.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MatrixError {
    #[error("{ty} weights cannot be read by the CPU engine")]
    Unsupported { ty: GgmlType },
    #[error("rows of {cols} {ty} weights are not whole blocks")]
    PartialBlock { ty: GgmlType, cols: usize },
    #[error("{rows}×{cols} {ty} weights need {expected} bytes, not {found}")]
    Size {
        ty: GgmlType,
        rows: usize,
        cols: usize,
        expected: u64,
        found: usize,
    },
}

impl QuantMatrix {
    /// `data` holds `rows` rows of `cols` weights of type `ty`.
    pub fn new(ty: GgmlType, rows: usize, cols: usize, data: Vec<u8>) -> Result<Self, MatrixError> {
        if !quant::DEQUANTIZABLE.contains(&ty) {
            return Err(MatrixError::Unsupported { ty });
        }
        let row_bytes = ty
            .row_bytes(cols as u64)
            .filter(|_| cols > 0)
            .ok_or(MatrixError::PartialBlock { ty, cols })?;
        let expected = row_bytes.saturating_mul(rows as u64);
        if expected != data.len() as u64 {
            return Err(MatrixError::Size {
                ty,
                rows,
                cols,
                expected,
                found: data.len(),
            });
        }
        Ok(Self {
            ty,
            rows,
            cols,
            row_bytes: row_bytes as usize,
            data,
            precision: InputPrecision::default(),
        })
    }

    /// The same matrix, its products taking their input at `precision`.
    pub fn with_precision(self, precision: InputPrecision) -> Self {
        Self { precision, ..self }
    }

    /// The bytes it holds.
    pub fn bytes(&self) -> usize {
        self.data.len()
    }

    fn row_data(&self, r: usize) -> &[u8] {
        &self.data[r * self.row_bytes..(r + 1) * self.row_bytes]
    }

    fn dequantize_row(&self, r: usize, out: &mut [f32]) {
        quant::dequantize(self.ty, self.row_data(r), out).expect("checked when made");
    }

    /// One row's dot product with `x`, straight from its blocks where a kernel reads them.
    fn row_dot(&self, r: usize, x: &[f32], scratch: &mut [f32]) -> f32 {
        let row = self.row_data(r);
        match self.ty {
            GgmlType::Q6K => dot_q6_k::dot(row, x),
            GgmlType::Q8_0 => dot_q8_0::dot(row, x),
            GgmlType::F32 => dot_f32::dot(bytemuck::cast_slice(row), x),
            _ => {
                self.dequantize_row(r, scratch);
                dot_f32::dot(scratch, x)
            }
        }
    }
}

impl WeightMatrix for QuantMatrix {
    fn rows(&self) -> usize {
        self.rows
    }

    fn cols(&self) -> usize {
        self.cols
    }

    /// 8-bit inputs: each input quantized once, then every row's blocks against each. f32
    /// inputs: one input (decode) against each row's blocks; several (prefill): each row
    /// dequantized once, then against every input, two rows by four inputs at a time.
    fn matmul(&self, xs: &[f32]) -> Vec<f32> {
        let (rows, cols) = (self.rows, self.cols);
        assert!(
            xs.len().is_multiple_of(cols),
            "inputs are not whole vectors of {cols}"
        );
        let n = xs.len() / cols;
        let mut out = vec![0.0f32; n * rows];
        let int8: Option<fn(&[u8], &QuantizedInput) -> f32> = match (self.precision, self.ty) {
            (InputPrecision::Int8, GgmlType::Q6K) => Some(dot_q6_k::dot_int8),
            (InputPrecision::Int8, GgmlType::Q8_0) => Some(dot_q8_0::dot_int8),
            _ => None,
        };
        if let Some(dot) = int8 {
            for (t, x) in xs.chunks_exact(cols).enumerate() {
                let x = QuantizedInput::new(x);
                for (r, y) in out[t * rows..(t + 1) * rows].iter_mut().enumerate() {
                    *y = dot(self.row_data(r), &x);
                }
            }
        } else if n == 1 {
            let mut scratch = vec![0.0f32; cols];
            for (r, y) in out.iter_mut().enumerate() {
                *y = self.row_dot(r, xs, &mut scratch);
            }
        } else {
            // Prefill: rows dequantized two at a time, then against the inputs four at a time.
            let mut pair = vec![0.0f32; 2 * cols];
            let inputs: Vec<&[f32]> = xs.chunks_exact(cols).collect();
            for r in (0..rows).step_by(2) {
                let last = (r + 1).min(rows - 1);
                let (w0, w1) = pair.split_at_mut(cols);
                self.dequantize_row(r, w0);
                self.dequantize_row(last, w1);
                let mut t = 0;
                while t + 4 <= n {
                    let d = dot_f32::dots_2x4(
                        [w0, w1],
                        [inputs[t], inputs[t + 1], inputs[t + 2], inputs[t + 3]],
                    );
                    for i in 0..4 {
                        out[(t + i) * rows + r] = d[i];
                        out[(t + i) * rows + last] = d[4 + i];
                    }
                    t += 4;
                }
                for (t, x) in inputs.iter().enumerate().skip(t) {
                    out[t * rows + r] = dot_f32::dot(w0, x);
                    out[t * rows + last] = dot_f32::dot(w1, x);
                }
            }
        }
        out
    }

    fn row_f32(&self, r: usize) -> Cow<'_, [f32]> {
        let mut row = vec![0.0f32; self.cols];
        self.dequantize_row(r, &mut row);
        Cow::Owned(row)
    }
}
