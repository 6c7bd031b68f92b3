//! ggml tensor types as GGUF stores them: id, block size and bytes per block.
//!
//! Sizes are those of ggml's `ggml-common.h` (checked against the `gguf` Python package's
//! `GGML_QUANT_SIZES`). Types whose block size the two disagree on (Q8_1) or that are newer
//! than both (Q2_0) are left out: a file using them is rejected as having an unknown type.

/// A ggml tensor type (`enum ggml_type`), with the id GGUF stores.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum GgmlType {
    F32 = 0,
    F16 = 1,
    Q4_0 = 2,
    Q4_1 = 3,
    Q5_0 = 6,
    Q5_1 = 7,
    Q8_0 = 8,
    Q2K = 10,
    Q3K = 11,
    Q4K = 12,
    Q5K = 13,
    Q6K = 14,
    Q8K = 15,
    Iq2Xxs = 16,
    Iq2Xs = 17,
    Iq3Xxs = 18,
    Iq1S = 19,
    Iq4Nl = 20,
    Iq3S = 21,
    Iq2S = 22,
    Iq4Xs = 23,
    I8 = 24,
    I16 = 25,
    I32 = 26,
    I64 = 27,
    F64 = 28,
    Iq1M = 29,
    Bf16 = 30,
    Tq1_0 = 34,
    Tq2_0 = 35,
    Mxfp4 = 39,
    Nvfp4 = 40,
    Q1_0 = 41,
}

impl GgmlType {
    /// Every type this crate knows the layout of.
    pub const ALL: [GgmlType; 33] = [
        Self::F32,
        Self::F16,
        Self::Q4_0,
        Self::Q4_1,
        Self::Q5_0,
        Self::Q5_1,
        Self::Q8_0,
        Self::Q2K,
        Self::Q3K,
        Self::Q4K,
        Self::Q5K,
        Self::Q6K,
        Self::Q8K,
        Self::Iq2Xxs,
        Self::Iq2Xs,
        Self::Iq3Xxs,
        Self::Iq1S,
        Self::Iq4Nl,
        Self::Iq3S,
        Self::Iq2S,
        Self::Iq4Xs,
        Self::I8,
        Self::I16,
        Self::I32,
        Self::I64,
        Self::F64,
        Self::Iq1M,
        Self::Bf16,
        Self::Tq1_0,
        Self::Tq2_0,
        Self::Mxfp4,
        Self::Nvfp4,
        Self::Q1_0,
    ];

    /// The type with GGUF id `id`, if known.
    pub fn from_id(id: u32) -> Option<GgmlType> {
        Self::ALL.iter().copied().find(|t| t.id() == id)
    }

    /// The id GGUF stores for this type.
    pub fn id(self) -> u32 {
        self as u32
    }

    /// Weights per block (1 for plain number types).
    pub fn block_size(self) -> u64 {
        self.layout().0
    }

    /// Bytes per block.
    pub fn bytes_per_block(self) -> u64 {
        self.layout().1
    }

    fn layout(self) -> (u64, u64) {
        use GgmlType::*;
        match self {
            F32 => (1, 4),
            F16 => (1, 2),
            Q4_0 => (32, 18),
            Q4_1 => (32, 20),
            Q5_0 => (32, 22),
            Q5_1 => (32, 24),
            Q8_0 => (32, 34),
            Q2K => (256, 84),
            Q3K => (256, 110),
            Q4K => (256, 144),
            Q5K => (256, 176),
            Q6K => (256, 210),
            Q8K => (256, 292),
            Iq2Xxs => (256, 66),
            Iq2Xs => (256, 74),
            Iq3Xxs => (256, 98),
            Iq1S => (256, 50),
            Iq4Nl => (32, 18),
            Iq3S => (256, 110),
            Iq2S => (256, 82),
            Iq4Xs => (256, 136),
            I8 => (1, 1),
            I16 => (1, 2),
            I32 => (1, 4),
            I64 => (1, 8),
            F64 => (1, 8),
            Iq1M => (256, 56),
            Bf16 => (1, 2),
            Tq1_0 => (256, 54),
            Tq2_0 => (256, 66),
            Mxfp4 => (32, 17),
            Nvfp4 => (64, 36),
            Q1_0 => (128, 18),
        }
    }

    /// ggml's name for the type (`"q6_K"`, `"f32"`, ...).
    pub fn name(self) -> &'static str {
        use GgmlType::*;
        match self {
            F32 => "f32",
            F16 => "f16",
            Q4_0 => "q4_0",
            Q4_1 => "q4_1",
            Q5_0 => "q5_0",
            Q5_1 => "q5_1",
            Q8_0 => "q8_0",
            Q2K => "q2_K",
            Q3K => "q3_K",
            Q4K => "q4_K",
            Q5K => "q5_K",
            Q6K => "q6_K",
            Q8K => "q8_K",
            Iq2Xxs => "iq2_xxs",
            Iq2Xs => "iq2_xs",
            Iq3Xxs => "iq3_xxs",
            Iq1S => "iq1_s",
            Iq4Nl => "iq4_nl",
            Iq3S => "iq3_s",
            Iq2S => "iq2_s",
            Iq4Xs => "iq4_xs",
            I8 => "i8",
            I16 => "i16",
            I32 => "i32",
            I64 => "i64",
            F64 => "f64",
            Iq1M => "iq1_m",
            Bf16 => "bf16",
            Tq1_0 => "tq1_0",
            Tq2_0 => "tq2_0",
            Mxfp4 => "mxfp4",
            Nvfp4 => "nvfp4",
            Q1_0 => "q1_0",
        }
    }

    /// Bytes of one row of `row_len` weights; `None` when `row_len` is not a whole number of
    /// blocks or the size overflows.
    pub fn row_bytes(self, row_len: u64) -> Option<u64> {
        if !row_len.is_multiple_of(self.block_size()) {
            return None;
        }
        (row_len / self.block_size()).checked_mul(self.bytes_per_block())
    }
}

impl std::fmt::Display for GgmlType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a tensor's shape has no byte size.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ShapeError {
    #[error("row length {row_len} is not a multiple of the {ty} block size {block}")]
    RowNotBlockMultiple {
        ty: GgmlType,
        row_len: u64,
        block: u64,
    },
    #[error("the element count or byte size of shape {dims:?} overflows 64 bits")]
    Overflow { dims: Vec<u64> },
}

/// Number of elements of a tensor of shape `dims` (`ne[0]` first), checked for overflow.
pub fn element_count(dims: &[u64]) -> Option<u64> {
    dims.iter().try_fold(1u64, |n, &d| n.checked_mul(d))
}

/// Bytes a tensor of type `ty` and shape `dims` (`ne[0]` first) occupies, as ggml lays it out:
/// rows of `dims[0]` weights, each a whole number of blocks. An empty `dims` is a scalar.
pub fn tensor_bytes(ty: GgmlType, dims: &[u64]) -> Result<u64, ShapeError> {
    let overflow = || ShapeError::Overflow {
        dims: dims.to_vec(),
    };
    let row_len = dims.first().copied().unwrap_or(1);
    let row = ty
        .row_bytes(row_len)
        .ok_or_else(|| match row_len % ty.block_size() {
            0 => overflow(),
            _ => ShapeError::RowNotBlockMultiple {
                ty,
                row_len,
                block: ty.block_size(),
            },
        })?;
    let rows = element_count(dims.get(1..).unwrap_or(&[])).ok_or_else(overflow)?;
    // The element count itself must fit too, or an index over the tensor would overflow.
    element_count(dims).ok_or_else(overflow)?;
    row.checked_mul(rows).ok_or_else(overflow)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_are_unique() {
        for t in GgmlType::ALL {
            assert_eq!(GgmlType::from_id(t.id()), Some(t));
        }
        let mut ids: Vec<u32> = GgmlType::ALL.iter().map(|t| t.id()).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), GgmlType::ALL.len());
        for removed in [4, 5, 9, 31, 32, 33, 36, 37, 38, 42, 43, u32::MAX] {
            assert_eq!(GgmlType::from_id(removed), None, "id {removed}");
        }
    }

    #[test]
    fn sizes() {
        assert_eq!(tensor_bytes(GgmlType::Q6K, &[2048, 8192]), Ok(8192 * 1680));
        assert_eq!(tensor_bytes(GgmlType::Q8_0, &[576, 49152]), Ok(30081024));
        assert_eq!(tensor_bytes(GgmlType::F32, &[576]), Ok(2304));
        assert_eq!(tensor_bytes(GgmlType::F32, &[]), Ok(4));
        assert_eq!(tensor_bytes(GgmlType::Q4_1, &[576, 0]), Ok(0));
        assert_eq!(
            tensor_bytes(GgmlType::Q6K, &[576, 2]),
            Err(ShapeError::RowNotBlockMultiple {
                ty: GgmlType::Q6K,
                row_len: 576,
                block: 256
            })
        );
        assert!(matches!(
            tensor_bytes(GgmlType::F32, &[1 << 62, 8]),
            Err(ShapeError::Overflow { .. })
        ));
        assert!(matches!(
            tensor_bytes(GgmlType::F32, &[1 << 62]),
            Err(ShapeError::Overflow { .. })
        ));
    }
}
