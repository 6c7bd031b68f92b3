//! Weight tensors on the GPU, kept quantized (Q6_K stays 6-bit) and dequantized on the fly by
//! the kernels in `kernels::matmul` and `kernels::embedding`.
//!
//! A tensor is `rows × cols` weights of one [`GgmlType`], stored row-major as in the GGUF file,
//! some types re-encoded block by block as they arrive ([`WeightEncoding`]): on GPUs Q6_K, its
//! blocks reordered into aligned words; on software adapters Q8_0 and Q6_K, into layouts a CPU
//! driver reads faster. When it is larger than one
//! binding may be, it is split by rows into several buffers or textures ("parts"), one binding
//! each; kernels are dispatched once per part.
//!
//! Buffers (the GGUF encoding, and Q6_K's on GPUs): a part is bound whole and read as `array<u32>`, with byte-offset
//! helpers in the shader (`load_u32`/`load_u16`/`load_u8` in `matmul/common.wgsl`), so rows and
//! blocks need not be 4-byte aligned inside a part (a 256-weight Q6_K row is 210 bytes, and
//! Q6_K / Q8_0 blocks alternate 4- and 2-byte alignment). Only a part's total size is rounded up
//! to 4 bytes (zero padding, at most 3 bytes per part). Split points are row counts whose byte
//! offset is a multiple of 256 (`min_storage_buffer_offset_alignment`), so parts could also
//! share one buffer as offset bindings, and so every part but the last is a whole number of
//! words.
//!
//! Row quads (the re-encoded layouts): a part is an `rgba32float` texture whose texels each hold
//! one word of each of 4 rows' stored bytes (a quad: rows 4q..4q+3), one row per channel (the
//! channels only carry bits: kernels bitcast them back to u32). A line holds G quads word by
//! word: texel `i·G + g` of line `l` is word `i` of quad `l·G + g`. G is 32 (a software GEMV
//! workgroup's quads), or the most below it that keeps a line within the texture's width and
//! the part's size and, in a stacked tensor, starts each member on a line. A kernel that takes
//! 4 rows at once then reads a word of all 4 with one texel fetch, where a storage buffer
//! costs a gather of 4 lanes, and a workgroup reads its line from start to end
//! (`kernels/matmul/row_quads.wgsl`). It samples the texel (nearest, no filtering) instead
//! of loading it: Chromium's robustness pass wraps every `textureLoad` in a levels and a size
//! query, which cost as much as the fetch on SwiftShader, and a sample needs no clamp.
//! Sampling returns the stored bits unchanged (NaN and denormal patterns included), which
//! `texel_round_trip_keeps_every_bit` checks on the adapter. A part holds as many lines as the
//! texture size limit and the part byte limit allow. Rows past the tensor's end in its last
//! line are zeros.

use super::{GpuContext, WeightEncoding};
use crate::gguf::GgmlType;

/// Weight types the GPU kernels dequantize.
pub const GPU_WEIGHT_TYPES: [GgmlType; 9] = [
    GgmlType::F32,
    GgmlType::F16,
    GgmlType::Bf16,
    GgmlType::Q8_0,
    GgmlType::Q6K,
    GgmlType::Q4K,
    GgmlType::Q5K,
    GgmlType::Q4_0,
    GgmlType::Q4_1,
];

/// Split points fall on multiples of this many bytes (WebGPU's largest allowed
/// `minStorageBufferOffsetAlignment`).
const SPLIT_ALIGNMENT: u64 = 256;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WeightError {
    #[error("tensor {name}: the GPU kernels do not handle {ty} weights")]
    UnsupportedType { name: String, ty: GgmlType },
    #[error("tensor {name}: a row of {cols} weights is not a whole number of {ty} blocks (or of 16 weights)")]
    BadRowLength {
        name: String,
        ty: GgmlType,
        cols: u32,
    },
    #[error(
        "tensor {name}: {what} ({rows} rows of {row_bytes} bytes, binding limit {limit} bytes)"
    )]
    TooLarge {
        name: String,
        what: &'static str,
        rows: u32,
        row_bytes: u64,
        limit: u64,
    },
    #[error("tensor {name}: writing {len} bytes at byte {offset} runs past its {total} bytes")]
    OutOfRange {
        name: String,
        offset: u64,
        len: usize,
        total: u64,
    },
    #[error("tensor {name}: a write at byte {offset} is not aligned to {unit} bytes and does not continue the previous write (which ended at byte {expected})")]
    UnalignedWrite {
        name: String,
        offset: u64,
        unit: usize,
        expected: u64,
    },
    #[error("tensor {name}: {len} bytes are not a whole number of {row_bytes}-byte rows")]
    PartialRows {
        name: String,
        len: usize,
        row_bytes: u64,
    },
}

/// Where a part's bytes live.
#[derive(Debug)]
pub enum PartStorage {
    Buffer(wgpu::Buffer),
    /// Row quads ([`WeightEncoding::is_row_quads`]), one texture line per G quads of rows.
    RowQuads {
        texture: wgpu::Texture,
        view: wgpu::TextureView,
    },
}

/// One buffer or texture of a split tensor: rows `first_row .. first_row + rows`.
#[derive(Debug)]
pub struct WeightPart {
    pub storage: PartStorage,
    pub first_row: u32,
    pub rows: u32,
    /// Offset of this part's first byte in the tensor's stored bytes.
    pub byte_offset: u64,
    /// The part's stored bytes (`rows × stored row bytes`), before padding.
    pub byte_len: u64,
}

impl WeightPart {
    /// What binding 0 of a kernel reading this part gets.
    pub fn binding(&self) -> wgpu::BindingResource<'_> {
        match &self.storage {
            PartStorage::Buffer(buffer) => buffer.as_entire_binding(),
            PartStorage::RowQuads { view, .. } => wgpu::BindingResource::TextureView(view),
        }
    }

    /// The part's buffer, when it is one.
    pub fn buffer(&self) -> Option<&wgpu::Buffer> {
        match &self.storage {
            PartStorage::Buffer(buffer) => Some(buffer),
            PartStorage::RowQuads { .. } => None,
        }
    }

    /// GPU memory the part takes.
    pub fn allocated_bytes(&self) -> u64 {
        match &self.storage {
            PartStorage::Buffer(buffer) => buffer.size(),
            PartStorage::RowQuads { texture, .. } => {
                let size = texture.size();
                u64::from(size.width) * u64::from(size.height) * QUAD_TEXEL_BYTES
            }
        }
    }

    fn destroy(&self) {
        match &self.storage {
            PartStorage::Buffer(buffer) => buffer.destroy(),
            PartStorage::RowQuads { texture, .. } => texture.destroy(),
        }
    }
}

/// Rows in one texel of row quads (a quad).
pub const QUAD_ROWS: u32 = 4;
/// How many quads a texture line of row quads may hold (G), the most that fit first: with 32,
/// a software GEMV workgroup's quads (4 lanes × 8) are one line, which its lanes read from
/// start to end as one stream.
const LINE_QUADS: [u32; 6] = [32, 16, 8, 4, 2, 1];
/// Rows that each member of a stacked tensor is a multiple of: a whole quad (its row quads
/// then start on a whole line, which the line's width follows) and a whole word of a buffer.
pub const STACK_ROWS: u32 = QUAD_ROWS;
/// Bytes of an `rgba32float` texel: one word of each of [`QUAD_ROWS`] rows.
const QUAD_TEXEL_BYTES: u64 = 16;

/// A `rows × cols` weight tensor on the GPU in its GGUF encoding (or one made from it), split
/// by rows across buffers or textures.
#[derive(Debug)]
pub struct GpuWeight {
    name: String,
    ty: GgmlType,
    encoding: WeightEncoding,
    rows: u32,
    cols: u32,
    /// GGUF bytes per row.
    row_bytes: u64,
    parts: Vec<WeightPart>,
    /// Quads in one texture line (G) of row quads; 1 for buffers.
    line_quads: u32,
    /// GGUF bytes of an unfinished unit not yet written (queue writes must be 4-byte aligned,
    /// and a re-encoded tensor needs whole blocks): they start at `carry_offset` and wait for
    /// the bytes that follow them.
    carry: Vec<u8>,
    carry_offset: u64,
    bytes_written: u64,
}

/// Frees the buffers and textures now rather than when the browser's garbage collector gets to them, so a
/// cancelled or failed load (whose loader is dropped) returns its GPU memory at once.
impl Drop for GpuWeight {
    fn drop(&mut self) {
        for part in &self.parts {
            part.destroy();
        }
    }
}

impl GpuWeight {
    /// Allocates the buffers for a tensor whose bytes arrive later through [`Self::write_bytes`]
    /// or [`Self::write_rows`]. Parts are as large as the device's binding limit allows.
    pub fn new(
        ctx: &GpuContext,
        name: &str,
        ty: GgmlType,
        rows: u32,
        cols: u32,
    ) -> Result<Self, WeightError> {
        Self::with_part_limit(
            &ctx.device,
            max_part_bytes(&ctx.limits),
            name,
            ty,
            rows,
            cols,
        )
    }

    /// [`Self::new`] with an explicit largest part size in bytes (tests force small parts).
    pub fn with_part_limit(
        device: &wgpu::Device,
        max_part_bytes: u64,
        name: &str,
        ty: GgmlType,
        rows: u32,
        cols: u32,
    ) -> Result<Self, WeightError> {
        Self::encoded(
            device,
            max_part_bytes,
            name,
            ty,
            WeightEncoding::Gguf,
            rows,
            cols,
        )
    }

    /// [`Self::with_part_limit`] for weights stored in `encoding`.
    pub fn encoded(
        device: &wgpu::Device,
        max_part_bytes: u64,
        name: &str,
        ty: GgmlType,
        encoding: WeightEncoding,
        rows: u32,
        cols: u32,
    ) -> Result<Self, WeightError> {
        Self::build(device, max_part_bytes, name, ty, encoding, rows, cols, 0)
    }

    /// [`Self::encoded`] for matrices of `members` rows each (a multiple of [`STACK_ROWS`])
    /// stacked into one, written member by member: every member starts on a whole texture
    /// line of row quads (and on a whole word of a buffer).
    pub fn stacked(
        device: &wgpu::Device,
        max_part_bytes: u64,
        name: &str,
        ty: GgmlType,
        encoding: WeightEncoding,
        members: &[u32],
        cols: u32,
    ) -> Result<Self, WeightError> {
        let rows = members
            .iter()
            .try_fold(0u32, |sum, &m| sum.checked_add(m))
            .ok_or_else(|| WeightError::TooLarge {
                name: name.into(),
                what: "the stacked rows overflow",
                rows: u32::MAX,
                row_bytes: 0,
                limit: max_part_bytes,
            })?;
        let common = members.iter().fold(0, |g, &m| gcd(g, m.into())) as u32;
        Self::build(
            device,
            max_part_bytes,
            name,
            ty,
            encoding,
            rows,
            cols,
            common,
        )
    }

    /// A tensor whose texture lines of row quads take a number of rows that divides
    /// `line_rows_divide` (0: any).
    #[allow(clippy::too_many_arguments)]
    fn build(
        device: &wgpu::Device,
        max_part_bytes: u64,
        name: &str,
        ty: GgmlType,
        encoding: WeightEncoding,
        rows: u32,
        cols: u32,
        line_rows_divide: u32,
    ) -> Result<Self, WeightError> {
        if !GPU_WEIGHT_TYPES.contains(&ty) {
            return Err(WeightError::UnsupportedType {
                name: name.into(),
                ty,
            });
        }
        let row_bytes = match ty.row_bytes(cols as u64) {
            Some(b) if cols > 0 && cols.is_multiple_of(16) => b,
            _ => {
                return Err(WeightError::BadRowLength {
                    name: name.into(),
                    ty,
                    cols,
                })
            }
        };
        let gguf_row_bytes = row_bytes;
        let row_bytes = encoding.stored_len(row_bytes);
        let too_large = |what| WeightError::TooLarge {
            name: name.into(),
            what,
            rows,
            row_bytes,
            limit: max_part_bytes,
        };
        let (parts, line_quads) = if encoding.is_row_quads() {
            quad_parts(
                device,
                max_part_bytes,
                name,
                rows,
                row_bytes,
                line_rows_divide,
            )
            .ok_or_else(|| {
                too_large("a row is wider than a texture line, or 4 rows exceed the part limit")
            })?
        } else {
            let parts =
                buffer_parts(device, max_part_bytes, name, rows, row_bytes).ok_or_else(|| {
                    too_large("not even one 256-byte-aligned group of rows fits a binding")
                })?;
            (parts, 1)
        };
        if parts.is_empty() {
            return Err(too_large("a tensor needs at least one row"));
        }
        Ok(Self {
            name: name.into(),
            ty,
            encoding,
            rows,
            cols,
            row_bytes: gguf_row_bytes,
            parts,
            line_quads,
            carry: Vec::new(),
            carry_offset: 0,
            bytes_written: 0,
        })
    }

    /// Allocates and uploads a whole tensor (`bytes` = its GGUF bytes).
    pub fn from_bytes(
        ctx: &GpuContext,
        name: &str,
        ty: GgmlType,
        rows: u32,
        cols: u32,
        bytes: &[u8],
    ) -> Result<Self, WeightError> {
        let mut w = Self::new(ctx, name, ty, rows, cols)?;
        w.write_bytes(&ctx.queue, 0, bytes)?;
        Ok(w)
    }

    /// Writes whole rows starting at `first_row` (see [`Self::write_bytes`]).
    pub fn write_rows(
        &mut self,
        queue: &wgpu::Queue,
        first_row: u32,
        bytes: &[u8],
    ) -> Result<(), WeightError> {
        if !(bytes.len() as u64).is_multiple_of(self.row_bytes) {
            return Err(WeightError::PartialRows {
                name: self.name.clone(),
                len: bytes.len(),
                row_bytes: self.row_bytes,
            });
        }
        self.write_bytes(queue, first_row as u64 * self.row_bytes, bytes)
    }

    /// Writes `bytes` at byte `offset` of the tensor's GGUF bytes, in any chunking a stream
    /// delivers. Writes in order always work; a write may also go anywhere whose offset is
    /// 4-byte aligned. A write that ends unaligned keeps its last 1–3 bytes until the next write
    /// continues them (or the tensor's end pads them).
    pub fn write_bytes(
        &mut self,
        queue: &wgpu::Queue,
        offset: u64,
        bytes: &[u8],
    ) -> Result<(), WeightError> {
        let total = self.total_bytes();
        if offset + bytes.len() as u64 > total {
            return Err(WeightError::OutOfRange {
                name: self.name.clone(),
                offset,
                len: bytes.len(),
                total,
            });
        }
        if bytes.is_empty() {
            return Ok(());
        }
        let new_len = bytes.len() as u64;
        let carry_end = self.carry_offset + self.carry.len() as u64;
        let unit = self.unit();
        let unaligned = |offset| WeightError::UnalignedWrite {
            name: self.name.clone(),
            offset,
            unit,
            expected: carry_end,
        };
        let joined;
        let (mut offset, mut bytes) = (offset, bytes);
        if !self.carry.is_empty() && offset == carry_end {
            // Appended in place: a stream of small writes into an unfinished unit copies each
            // byte once.
            self.carry.extend_from_slice(bytes);
            if self.carry.len() < unit && carry_end + new_len < total {
                self.bytes_written += new_len;
                return Ok(());
            }
            joined = std::mem::take(&mut self.carry);
            offset = self.carry_offset;
            bytes = &joined;
        } else if !offset.is_multiple_of(unit as u64) {
            return Err(unaligned(offset));
        }
        let end = offset + bytes.len() as u64;
        let aligned_end = if end == total {
            end
        } else {
            end - end % unit as u64
        };
        if aligned_end < end && !self.carry.is_empty() {
            // Two unfinished tails at once would need the bytes between them.
            return Err(unaligned(offset));
        }
        self.bytes_written += new_len;
        let whole = &bytes[..(aligned_end - offset) as usize];
        match self.encoding {
            WeightEncoding::Gguf => self.write_aligned(queue, offset, whole),
            encoding if encoding.is_row_quads() => {
                let stored = encoding.encode(whole);
                let first_row = (offset / self.row_bytes) as u32;
                self.write_quads(queue, first_row, &stored);
            }
            // Whole blocks of a size that is a multiple of 4.
            encoding => {
                let stored = encoding.encode(whole);
                self.write_aligned(queue, encoding.stored_len(offset), &stored);
            }
        }
        if aligned_end < end {
            self.carry = bytes[(aligned_end - offset) as usize..].to_vec();
            self.carry_offset = aligned_end;
        }
        Ok(())
    }

    /// GGUF bytes stored together: 4 (queue writes must be 4-byte aligned), a block for a
    /// re-encoded buffer, or a texture line's rows for row quads (the tensor's last line may be
    /// short).
    fn unit(&self) -> usize {
        if self.encoding.is_row_quads() {
            (u64::from(self.line_rows()) * self.row_bytes) as usize
        } else {
            self.encoding.unit().0
        }
    }

    /// Writes stored bytes at stored byte `offset`, which is 4-aligned; the length is a multiple
    /// of 4 unless the slice ends the tensor.
    fn write_aligned(&self, queue: &wgpu::Queue, offset: u64, bytes: &[u8]) {
        for part in &self.parts {
            let (start, end) = (part.byte_offset, part.byte_offset + part.byte_len);
            let lo = offset.max(start);
            let hi = (offset + bytes.len() as u64).min(end);
            let (Some(buffer), true) = (part.buffer(), lo < hi) else {
                continue;
            };
            let slice = &bytes[(lo - offset) as usize..(hi - offset) as usize];
            if slice.len().is_multiple_of(4) {
                queue.write_buffer(buffer, lo - start, slice);
            } else {
                // Only the tensor's last bytes end unaligned: pad them with zeros.
                let mut padded = slice.to_vec();
                padded.resize(slice.len().next_multiple_of(4), 0);
                queue.write_buffer(buffer, lo - start, &padded);
            }
        }
    }

    /// Rows in one texture line of row quads.
    fn line_rows(&self) -> u32 {
        QUAD_ROWS * self.line_quads
    }

    /// Writes the stored bytes of whole rows from `first_row` (a multiple of a line's rows) as
    /// texture lines; a short last line is padded with zero rows.
    fn write_quads(&self, queue: &wgpu::Queue, first_row: u32, stored: &[u8]) {
        let stored_row = self.encoding.stored_len(self.row_bytes) as usize;
        let rows = (stored.len() / stored_row) as u32;
        for part in &self.parts {
            let PartStorage::RowQuads { texture, .. } = &part.storage else {
                continue;
            };
            let lo = first_row.max(part.first_row);
            let hi = (first_row + rows).min(part.first_row + part.rows);
            if lo >= hi {
                continue;
            }
            let lines = interleave_quads(
                &stored[(lo - first_row) as usize * stored_row
                    ..(hi - first_row) as usize * stored_row],
                stored_row,
                self.line_quads,
            );
            let width = stored_row as u32 / 4 * self.line_quads;
            let line_count = (hi - lo).div_ceil(self.line_rows());
            queue.write_texture(
                wgpu::TexelCopyTextureInfo {
                    texture,
                    mip_level: 0,
                    origin: wgpu::Origin3d {
                        x: 0,
                        y: (lo - part.first_row) / self.line_rows(),
                        z: 0,
                    },
                    aspect: wgpu::TextureAspect::All,
                },
                &lines,
                wgpu::TexelCopyBufferLayout {
                    offset: 0,
                    bytes_per_row: Some(width * QUAD_TEXEL_BYTES as u32),
                    rows_per_image: None,
                },
                wgpu::Extent3d {
                    width,
                    height: line_count,
                    depth_or_array_layers: 1,
                },
            );
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }
    pub fn ty(&self) -> GgmlType {
        self.ty
    }
    pub fn encoding(&self) -> WeightEncoding {
        self.encoding
    }
    pub fn rows(&self) -> u32 {
        self.rows
    }
    pub fn cols(&self) -> u32 {
        self.cols
    }
    pub fn row_bytes(&self) -> u64 {
        self.row_bytes
    }
    pub fn parts(&self) -> &[WeightPart] {
        &self.parts
    }
    /// The tensor's GGUF bytes.
    pub fn total_bytes(&self) -> u64 {
        self.rows as u64 * self.row_bytes
    }
    /// Bytes handed to the write functions so far (the loader's progress).
    pub fn bytes_written(&self) -> u64 {
        self.bytes_written
    }
    /// GPU memory the tensor's buffers or textures take.
    pub fn allocated_bytes(&self) -> u64 {
        self.parts.iter().map(WeightPart::allocated_bytes).sum()
    }
}

/// The largest part a device allows: one storage binding, and one buffer.
pub fn max_part_bytes(limits: &wgpu::Limits) -> u64 {
    limits
        .max_storage_buffer_binding_size
        .min(limits.max_buffer_size)
}

/// The buffers of a tensor in its GGUF bytes, `None` when not even one 256-byte-aligned group
/// of rows fits `max_part_bytes`.
fn buffer_parts(
    device: &wgpu::Device,
    max_part_bytes: u64,
    name: &str,
    rows: u32,
    row_bytes: u64,
) -> Option<Vec<WeightPart>> {
    // Kernels compute byte offsets in u32.
    let max_part_bytes = max_part_bytes.min(u32::MAX as u64 - 3);
    let rows_per_part = if (rows as u64 * row_bytes).next_multiple_of(4) <= max_part_bytes {
        rows.max(1)
    } else {
        rows_per_part(row_bytes, max_part_bytes)?
    };
    Some(split_rows(rows, rows_per_part, row_bytes, |index, n| {
        PartStorage::Buffer(device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(&format!("{name} [{index}]")),
            size: (n as u64 * row_bytes).next_multiple_of(4),
            usage: wgpu::BufferUsages::STORAGE
                | wgpu::BufferUsages::COPY_DST
                | wgpu::BufferUsages::COPY_SRC,
            mapped_at_creation: false,
        }))
    }))
}

/// The textures of a tensor in row quads (`row_bytes` stored bytes a row, a multiple of 4) and
/// the quads a line holds (as many as fit the texture's width, and whose rows divide
/// `line_rows_divide` unless it is 0), `None` when a row is wider than a texture line or not
/// even one line fits a part.
fn quad_parts(
    device: &wgpu::Device,
    max_part_bytes: u64,
    name: &str,
    rows: u32,
    row_bytes: u64,
    line_rows_divide: u32,
) -> Option<(Vec<WeightPart>, u32)> {
    let max_dim = device.limits().max_texture_dimension_2d;
    let words = u32::try_from(row_bytes / 4)
        .ok()
        .filter(|&w| w > 0 && w <= max_dim)?;
    let line_quads = LINE_QUADS.into_iter().find(|g| {
        let width = u64::from(*g) * u64::from(words);
        width <= u64::from(max_dim)
            && width * QUAD_TEXEL_BYTES <= max_part_bytes
            && line_rows_divide.is_multiple_of(QUAD_ROWS * g)
    })?;
    let width = words * line_quads;
    let line_rows = QUAD_ROWS * line_quads;
    let line_bytes = u64::from(width) * QUAD_TEXEL_BYTES;
    let lines_per_part = (max_part_bytes / line_bytes).min(u64::from(max_dim)) as u32;
    if lines_per_part == 0 {
        return None;
    }
    let rows_per_part = lines_per_part.saturating_mul(line_rows);
    let parts = split_rows(rows, rows_per_part, row_bytes, |index, n| {
        let texture = device.create_texture(&wgpu::TextureDescriptor {
            label: Some(&format!("{name} [{index}]")),
            size: wgpu::Extent3d {
                width,
                height: n.div_ceil(line_rows),
                depth_or_array_layers: 1,
            },
            mip_level_count: 1,
            sample_count: 1,
            dimension: wgpu::TextureDimension::D2,
            format: wgpu::TextureFormat::Rgba32Float,
            usage: wgpu::TextureUsages::TEXTURE_BINDING
                | wgpu::TextureUsages::COPY_DST
                | wgpu::TextureUsages::COPY_SRC,
            view_formats: &[],
        });
        let view = texture.create_view(&Default::default());
        PartStorage::RowQuads { texture, view }
    });
    Some((parts, line_quads))
}

/// `rows` rows of `row_bytes` stored bytes split into parts of `rows_per_part` rows (the last
/// may be shorter); `storage(index, rows)` makes each part's buffer or texture.
fn split_rows(
    rows: u32,
    rows_per_part: u32,
    row_bytes: u64,
    mut storage: impl FnMut(usize, u32) -> PartStorage,
) -> Vec<WeightPart> {
    let mut parts = Vec::new();
    let mut first_row = 0u32;
    while first_row < rows {
        let n = (rows - first_row).min(rows_per_part);
        parts.push(WeightPart {
            storage: storage(parts.len(), n),
            first_row,
            rows: n,
            byte_offset: first_row as u64 * row_bytes,
            byte_len: n as u64 * row_bytes,
        });
        first_row += n;
    }
    parts
}

/// Byte offset of word `word` of row `row` in row-quad texture lines of `words` words a row and
/// `line_quads` quads a line (the module's doc has the layout).
fn quad_byte(row: usize, word: usize, words: usize, line_quads: usize) -> usize {
    let quad = row / QUAD_ROWS as usize;
    let line = quad / line_quads;
    let texel = line * line_quads * words + word * line_quads + quad % line_quads;
    texel * QUAD_TEXEL_BYTES as usize + row % QUAD_ROWS as usize * 4
}

/// Stored rows (`row_bytes` each, a multiple of 4) as texture lines of row quads, `line_quads`
/// quads a line, zeros past the last row.
fn interleave_quads(stored: &[u8], row_bytes: usize, line_quads: u32) -> Vec<u8> {
    let rows = stored.len() / row_bytes;
    let words = row_bytes / 4;
    let line_quads = line_quads as usize;
    let lines = rows.div_ceil(QUAD_ROWS as usize * line_quads);
    let mut out = vec![0u8; lines * line_quads * words * QUAD_TEXEL_BYTES as usize];
    for (r, row) in stored.chunks_exact(row_bytes).enumerate() {
        for (i, word) in row.chunks_exact(4).enumerate() {
            let at = quad_byte(r, i, words, line_quads);
            out[at..at + 4].copy_from_slice(word);
        }
    }
    out
}

/// Rows per part when a tensor must be split: the most rows that fit `max_bytes` and whose
/// byte size is a multiple of 256 (e.g. every 32 rows for 1680-byte Q6_K rows).
fn rows_per_part(row_bytes: u64, max_bytes: u64) -> Option<u32> {
    let step = SPLIT_ALIGNMENT / gcd(row_bytes, SPLIT_ALIGNMENT);
    let fit = max_bytes / row_bytes;
    let rows = fit - fit % step;
    (rows > 0).then(|| rows.min(u32::MAX as u64) as u32)
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gpu::kernels::matmul::test_util::random_weight;
    use crate::gpu::read_buffer;
    use crate::gpu::test_support::gpu;

    /// The tensor's stored bytes, row-major, as the GPU holds them.
    fn read_back(w: &GpuWeight) -> Vec<u8> {
        let mut bytes = Vec::new();
        for part in w.parts() {
            match &part.storage {
                PartStorage::Buffer(buffer) => {
                    let b = pollster::block_on(read_buffer(gpu(), buffer, buffer.size())).unwrap();
                    bytes.extend_from_slice(&b[..part.byte_len as usize]);
                }
                PartStorage::RowQuads { texture, .. } => {
                    let lines = read_texture(texture);
                    let words = (part.byte_len / part.rows as u64 / 4) as usize;
                    let line_quads = w.line_quads as usize;
                    assert_eq!(texture.width() as usize, words * line_quads);
                    for r in 0..part.rows as usize {
                        for i in 0..words {
                            let at = quad_byte(r, i, words, line_quads);
                            bytes.extend_from_slice(&lines[at..at + 4]);
                        }
                    }
                }
            }
        }
        bytes
    }

    /// Every line of a row-quad texture, packed.
    fn read_texture(texture: &wgpu::Texture) -> Vec<u8> {
        let gpu = gpu();
        let size = texture.size();
        let line = size.width as usize * 16;
        let padded = line.next_multiple_of(256);
        let buffer = gpu.device.create_buffer(&wgpu::BufferDescriptor {
            label: None,
            size: (padded * size.height as usize) as u64,
            usage: wgpu::BufferUsages::COPY_DST | wgpu::BufferUsages::COPY_SRC,
            mapped_at_creation: false,
        });
        let mut encoder = gpu.device.create_command_encoder(&Default::default());
        encoder.copy_texture_to_buffer(
            texture.as_image_copy(),
            wgpu::TexelCopyBufferInfo {
                buffer: &buffer,
                layout: wgpu::TexelCopyBufferLayout {
                    offset: 0,
                    bytes_per_row: Some(padded as u32),
                    rows_per_image: None,
                },
            },
            size,
        );
        gpu.queue.submit([encoder.finish()]);
        let all = pollster::block_on(read_buffer(gpu, &buffer, buffer.size())).unwrap();
        all.chunks_exact(padded)
            .flat_map(|l| &l[..line])
            .copied()
            .collect()
    }

    #[test]
    fn splits_fall_on_256_byte_multiples_within_the_limit() {
        // 1680-byte Q6_K rows (2048 weights): every 32 rows.
        let w =
            GpuWeight::with_part_limit(&gpu().device, 128 * 1024, "t", GgmlType::Q6K, 1000, 2048)
                .unwrap();
        for part in w.parts() {
            assert!(part.allocated_bytes() <= 128 * 1024);
            assert_eq!(part.byte_offset % 256, 0);
        }
        assert_eq!(w.parts()[0].rows, 64);
        assert_eq!(w.parts().iter().map(|p| p.rows).sum::<u32>(), 1000);
        // A tensor that fits stays whole, whatever its alignment.
        let w =
            GpuWeight::with_part_limit(&gpu().device, 4096, "t", GgmlType::Q6K, 3, 256).unwrap();
        assert_eq!(w.parts().len(), 1);
        assert_eq!(w.parts()[0].allocated_bytes(), 632);
        // Too small for one aligned group: 128 rows of 210 bytes.
        assert!(matches!(
            GpuWeight::with_part_limit(&gpu().device, 20_000, "t", GgmlType::Q6K, 1000, 256),
            Err(WeightError::TooLarge { .. })
        ));
    }

    #[test]
    fn streamed_writes_in_any_chunking_land_whole() {
        let gpu = gpu();
        let (rows, cols) = (333, 256);
        let bytes = random_weight(GgmlType::Q6K, rows, cols, 3);
        for chunk in [1, 3, 210, 1000, 65536] {
            let mut w = GpuWeight::with_part_limit(
                &gpu.device,
                32 * 1024,
                "t",
                GgmlType::Q6K,
                rows as u32,
                cols as u32,
            )
            .unwrap();
            assert!(w.parts().len() >= 3);
            for (i, c) in bytes.chunks(chunk).enumerate() {
                w.write_bytes(&gpu.queue, (i * chunk) as u64, c).unwrap();
            }
            assert_eq!(read_back(&w), bytes, "chunks of {chunk}");
        }
        // Whole rows, out of order, at 4-aligned offsets (even rows: 420-byte multiples).
        let mut w = GpuWeight::with_part_limit(
            &gpu.device,
            32 * 1024,
            "t",
            GgmlType::Q6K,
            rows as u32,
            cols as u32,
        )
        .unwrap();
        let rb = 210;
        w.write_rows(&gpu.queue, 100, &bytes[100 * rb..]).unwrap();
        w.write_rows(&gpu.queue, 0, &bytes[..100 * rb]).unwrap();
        assert_eq!(read_back(&w), bytes);
        assert!(matches!(
            w.write_rows(&gpu.queue, 1, &bytes[rb..2 * rb]),
            Err(WeightError::UnalignedWrite { .. })
        ));
        assert!(matches!(
            w.write_bytes(&gpu.queue, bytes.len() as u64 - 2, &[0; 4]),
            Err(WeightError::OutOfRange { .. })
        ));
    }

    #[test]
    fn re_encoded_q6_k_streams_in_any_chunking() {
        let gpu = gpu();
        let (rows, cols) = (333, 512);
        let bytes = random_weight(GgmlType::Q6K, rows, cols, 4);
        let want = WeightEncoding::Q6KBytes.encode(&bytes);
        let new = || {
            let (rows, cols) = (rows as u32, cols as u32);
            let encoding = WeightEncoding::Q6KBytes;
            GpuWeight::encoded(
                &gpu.device,
                32 * 1024,
                "t",
                GgmlType::Q6K,
                encoding,
                rows,
                cols,
            )
            .unwrap()
        };
        for chunk in [1, 4, 209, 210, 211, 1000, 65536] {
            let mut w = new();
            assert!(w.parts().len() >= 3);
            for (i, c) in bytes.chunks(chunk).enumerate() {
                w.write_bytes(&gpu.queue, (i * chunk) as u64, c).unwrap();
            }
            assert_eq!(w.bytes_written(), bytes.len() as u64);
            assert_eq!(read_back(&w), want, "chunks of {chunk}");
        }
        // A line of 160-word rows as wide as a part of 32 KiB allows holds 8 quads (20 KiB):
        // 333 rows take 10 parts of one line of 32 rows and one of 13 rows and 19 of zeros.
        let mut w = new();
        assert_eq!(w.parts().len(), 11);
        assert_eq!(w.allocated_bytes(), 11 * 8 * 160 * 16);
        // Whole lines out of order; a write inside a line that continues nothing is refused.
        let rb = 420;
        w.write_rows(&gpu.queue, 32, &bytes[32 * rb..]).unwrap();
        assert!(matches!(
            w.write_rows(&gpu.queue, 31, &bytes[31 * rb..32 * rb]),
            Err(WeightError::UnalignedWrite { unit: 13440, .. })
        ));
        w.write_rows(&gpu.queue, 0, &bytes[..32 * rb]).unwrap();
        assert_eq!(read_back(&w), want);
    }

    #[test]
    fn a_texture_line_holds_as_many_quads_as_its_width_allows() {
        let gpu = gpu();
        let max_dim = gpu.limits.max_texture_dimension_2d;
        // Q8_0 words: 9 for 32 columns.
        for (cols, quads) in [(576, 32), (max_dim, 2), (2 * max_dim, 1)] {
            let rows = 150;
            let bytes = random_weight(GgmlType::Q8_0, rows, cols as usize, 5);
            let mut w = GpuWeight::encoded(
                &gpu.device,
                u64::MAX,
                "t",
                GgmlType::Q8_0,
                WeightEncoding::Q8_0Words,
                rows as u32,
                cols,
            )
            .unwrap();
            assert_eq!(w.line_quads, quads, "{cols} columns");
            // In two writes: the second starts on a line.
            let split = 4 * quads as usize * w.row_bytes as usize;
            w.write_bytes(&gpu.queue, split as u64, &bytes[split..])
                .unwrap();
            w.write_bytes(&gpu.queue, 0, &bytes[..split]).unwrap();
            assert_eq!(
                read_back(&w),
                WeightEncoding::Q8_0Words.encode(&bytes),
                "{cols} columns"
            );
        }
        // Stacked q, k and v (SmolLM2's 576, 192 and 192 rows): each member starts on a line,
        // so a line holds 16 quads (64 rows), not 32.
        let w = GpuWeight::stacked(
            &gpu.device,
            u64::MAX,
            "q+k+v",
            GgmlType::Q8_0,
            WeightEncoding::Q8_0Words,
            &[576, 192, 192],
            576,
        )
        .unwrap();
        assert_eq!((w.rows(), w.line_quads), (960, 16));
    }

    /// Kernels read row quads by sampling `rgba32float` texels and bitcasting them: every bit
    /// pattern must come back as stored, NaNs, infinities and denormals included (Q8_0 words
    /// hold arbitrary bytes; an f16 scale may be infinite).
    #[test]
    fn texel_round_trip_keeps_every_bit() {
        use crate::gpu::kernels::params::{params_buffer_for_tests, row_quad_pipeline};
        let gpu = gpu();
        let (rows, cols) = (7u32, 64u32);
        let mut bytes = random_weight(GgmlType::Q8_0, rows as usize, cols as usize, 9);
        // Quant words that re-encode to NaN, infinity, denormal and negative-zero patterns, and
        // scales that are an f16 infinity and NaN.
        let specials: [u32; 6] = [
            0x7FC0_0001,
            0x7F80_0000,
            0xFF80_0000,
            0x0000_0001,
            0x8000_0000,
            0xFFFF_FFFF,
        ];
        for (i, word) in specials.iter().enumerate() {
            let encoded = word.to_le_bytes();
            let at = i * 34 + 2 + 4 * (i % 8);
            for k in 0..3 {
                bytes[at + k] = encoded[k] ^ 0x80;
            }
            bytes[at + 3] = encoded[3];
        }
        bytes[34 * 3..34 * 3 + 2].copy_from_slice(&0x7C00u16.to_le_bytes());
        bytes[34 * 5..34 * 5 + 2].copy_from_slice(&0x7E01u16.to_le_bytes());
        let mut w = GpuWeight::encoded(
            &gpu.device,
            u64::MAX,
            "t",
            GgmlType::Q8_0,
            WeightEncoding::Q8_0Words,
            rows,
            cols,
        )
        .unwrap();
        w.write_bytes(&gpu.queue, 0, &bytes).unwrap();
        let want = WeightEncoding::Q8_0Words.encode(&bytes);
        assert_eq!(read_back(&w), want, "copied back");

        let words = (want.len() / rows as usize / 4) as u32;
        let source = format!(
            "{}{}",
            include_str!("kernels/matmul/row_quads.wgsl"),
            "
            @group(0) @binding(1) var<storage, read> unused: array<u32>;
            @group(0) @binding(2) var<storage, read_write> out: array<u32>;
            @group(0) @binding(3) var<uniform> words_per_row: vec4<u32>;
            @compute @workgroup_size(64)
            fn main(@builtin(global_invocation_id) id: vec3<u32>) {
                start_weights(words_per_row.x);
                let quads = words_per_row.y;
                let at = id.x % words_per_row.x;
                let quad = id.x / words_per_row.x;
                if (quad >= quads) { return; }
                let t = words(quad, at);
                for (var c = 0u; c < 4u; c++) {
                    out[((4u * quad + c) * words_per_row.x + at)] = t[c];
                }
            }"
        );
        let module = gpu
            .device
            .create_shader_module(wgpu::ShaderModuleDescriptor {
                label: None,
                source: wgpu::ShaderSource::Wgsl(source.into()),
            });
        let pipeline = row_quad_pipeline(&gpu.device, &module, "round trip", 1);
        let quads = rows.div_ceil(QUAD_ROWS);
        let out_bytes = u64::from(quads * QUAD_ROWS * words) * 4;
        let storage = |size| {
            gpu.device.create_buffer(&wgpu::BufferDescriptor {
                label: None,
                size,
                usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
                mapped_at_creation: false,
            })
        };
        let (unused, out) = (storage(16), storage(out_bytes));
        let params = params_buffer_for_tests(&gpu.device, &[words, quads, 0, 0]);
        let sampler = gpu.device.create_sampler(&Default::default());
        let bind_group = gpu.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: None,
            layout: &pipeline.get_bind_group_layout(0),
            entries: &[
                wgpu::BindGroupEntry {
                    binding: 0,
                    resource: w.parts()[0].binding(),
                },
                wgpu::BindGroupEntry {
                    binding: 1,
                    resource: unused.as_entire_binding(),
                },
                wgpu::BindGroupEntry {
                    binding: 2,
                    resource: out.as_entire_binding(),
                },
                wgpu::BindGroupEntry {
                    binding: 3,
                    resource: params.as_entire_binding(),
                },
                wgpu::BindGroupEntry {
                    binding: 4,
                    resource: wgpu::BindingResource::Sampler(&sampler),
                },
            ],
        });
        let mut encoder = gpu.device.create_command_encoder(&Default::default());
        {
            let mut pass = encoder.begin_compute_pass(&Default::default());
            pass.set_pipeline(&pipeline);
            pass.set_bind_group(0, &bind_group, &[]);
            pass.dispatch_workgroups((quads * words).div_ceil(64), 1, 1);
        }
        gpu.queue.submit([encoder.finish()]);
        let got = pollster::block_on(read_buffer(gpu, &out, out_bytes)).unwrap();
        let got = &got[..want.len()];
        for (i, (g, e)) in got.chunks_exact(4).zip(want.chunks_exact(4)).enumerate() {
            assert_eq!(g, e, "word {i}: sampled {g:02x?}, stored {e:02x?}");
        }
    }

    #[test]
    fn gpu_memory_stays_within_five_percent_of_the_gguf_bytes() {
        let device = &gpu().device;
        let mut gguf = 0u64;
        let mut allocated = 0u64;
        for ty in GPU_WEIGHT_TYPES {
            for (rows, cols, limit) in [
                (1, 256, u64::MAX),
                (7, 256, u64::MAX),
                (100, 2048, 64 * 1024),
                (333, 576, 64 * 1024),
                (1000, 256, 64 * 1024),
            ] {
                let Ok(w) = GpuWeight::with_part_limit(device, limit, "t", ty, rows, cols) else {
                    assert!(ty.row_bytes(cols as u64).is_none(), "{ty} {rows}x{cols}");
                    continue;
                };
                let ratio = w.allocated_bytes() as f64 / w.total_bytes() as f64;
                assert!(ratio <= 1.05, "{ty} {rows}x{cols}: {ratio}");
                gguf += w.total_bytes();
                allocated += w.allocated_bytes();
            }
        }
        assert!(allocated as f64 <= 1.05 * gguf as f64);
    }

    #[test]
    fn rejects_what_the_kernels_cannot_read() {
        let device = &gpu().device;
        assert!(matches!(
            GpuWeight::with_part_limit(device, u64::MAX, "t", GgmlType::Q3K, 4, 256),
            Err(WeightError::UnsupportedType { .. })
        ));
        assert!(matches!(
            GpuWeight::with_part_limit(device, u64::MAX, "t", GgmlType::Q6K, 4, 576),
            Err(WeightError::BadRowLength { .. })
        ));
    }
}
