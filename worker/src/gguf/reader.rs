//! Incremental GGUF header parser.
//!
//! Bytes are pushed as they arrive (in chunks of any size); the parser consumes whole tokens
//! (a number, a string, an array header, a tensor's shape) and keeps only the unfinished tail of
//! the input, so the work is linear in the header size whatever the chunking. Nothing is allocated
//! from a length field before the bytes behind it have arrived, or, when the file length is
//! known, before the length has been checked against the bytes that remain.

use super::error::GgufError;
use super::header::{GgufHeader, TensorInfo, DEFAULT_ALIGNMENT};
use super::types::{tensor_bytes, GgmlType};
use super::value::{MetadataValue, ValueType};
use std::collections::HashSet;
use std::io::Read;

/// Caps on what a header may declare. The defaults are far above any real model (Llama 3's
/// header: 128k tokens, 280k merges, ~300 tensors) and bound the parser's memory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    pub max_tensors: u64,
    pub max_metadata_entries: u64,
    /// Longest string (key, value or tensor name), in bytes.
    pub max_string_len: u64,
    /// Most elements in one array.
    pub max_array_len: u64,
    /// Most array elements in the whole metadata.
    pub max_array_elements: u64,
    /// Deepest array nesting (an array of scalars is depth 1).
    pub max_array_depth: u32,
    /// ggml's GGML_MAX_DIMS.
    pub max_dims: u32,
    /// Largest header (everything before the data section), in bytes.
    pub max_header_len: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_tensors: 1 << 18,
            max_metadata_entries: 1 << 16,
            max_string_len: 16 << 20,
            max_array_len: 1 << 24,
            max_array_elements: 1 << 25,
            max_array_depth: 8,
            max_dims: 4,
            max_header_len: 1 << 30,
        }
    }
}

const MAGIC: [u8; 4] = *b"GGUF";
/// Fewest bytes one metadata entry can take: key length, value type, one-byte value.
const MIN_KV_LEN: u64 = 8 + 4 + 1;
/// Fewest bytes one tensor info can take: name length, n_dims, type, offset.
const MIN_TENSOR_INFO_LEN: u64 = 8 + 4 + 4 + 8;

/// An array being filled.
struct Frame {
    elem: ValueType,
    len: u64,
    items: Vec<MetadataValue>,
}

enum Stage {
    Preamble,
    Key,
    ValueType {
        key: String,
    },
    /// Reading a value of type `ty` for `key`: the whole value if `stack` is empty, else the
    /// next element of the innermost array.
    Value {
        key: String,
        ty: ValueType,
        stack: Vec<Frame>,
    },
    TensorName,
    TensorShape {
        name: String,
    },
    /// All tensor infos read; the header is finished once the last token's bytes are counted.
    Finishing,
    Done,
}

/// Push parser for a GGUF header.
pub struct GgufReader {
    limits: Limits,
    file_len: Option<u64>,
    /// Bytes received but not yet consumed (the unfinished token).
    pending: Vec<u8>,
    /// Absolute stream offset of the next unconsumed byte.
    offset: u64,
    /// Bytes pushed so far.
    received: u64,
    stage: Stage,
    version: u32,
    n_tensors: u64,
    n_kv: u64,
    metadata: Vec<(String, MetadataValue)>,
    keys: HashSet<String>,
    tensors: Vec<TensorInfo>,
    array_elements: u64,
    header: Option<GgufHeader>,
    failed: Option<GgufError>,
}

impl Default for GgufReader {
    fn default() -> Self {
        Self::new()
    }
}

/// Reads little-endian tokens from a slice without consuming on failure.
struct Cursor<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn remaining(&self) -> usize {
        self.data.len() - self.pos
    }

    fn peek(&self, n: usize) -> Option<&'a [u8]> {
        self.data.get(self.pos..self.pos.checked_add(n)?)
    }

    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let s = self.peek(n)?;
        self.pos += n;
        Some(s)
    }
}

fn le_u32(b: &[u8]) -> u32 {
    u32::from_le_bytes(b.try_into().unwrap_or([0; 4]))
}

fn le_u64(b: &[u8]) -> u64 {
    u64::from_le_bytes(b.try_into().unwrap_or([0; 8]))
}

/// What a string's bytes are for, to name it in errors.
fn key_context(index: usize) -> String {
    format!("the key of metadata entry #{index}")
}

impl GgufReader {
    pub fn new() -> Self {
        Self::with_limits(Limits::default())
    }

    pub fn with_limits(limits: Limits) -> Self {
        GgufReader {
            limits,
            file_len: None,
            pending: Vec::new(),
            offset: 0,
            received: 0,
            stage: Stage::Preamble,
            version: 0,
            n_tensors: 0,
            n_kv: 0,
            metadata: Vec::new(),
            keys: HashSet::new(),
            tensors: Vec::new(),
            array_elements: 0,
            header: None,
            failed: None,
        }
    }

    /// Declares the whole file's length: counts and lengths are then checked against the bytes
    /// that remain, and every tensor's data against the end of the file.
    pub fn with_file_len(mut self, file_len: u64) -> Self {
        self.file_len = Some(file_len);
        self
    }

    /// Feeds the next bytes of the stream. Returns `Ok(true)` once the header is complete (bytes
    /// pushed after that are ignored: the caller locates tensor data by absolute offset).
    /// After an error every later call returns the same error.
    pub fn push(&mut self, bytes: &[u8]) -> Result<bool, GgufError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        if self.header.is_some() {
            self.received += bytes.len() as u64;
            return Ok(true);
        }
        self.received += bytes.len() as u64;
        let result = if self.pending.is_empty() {
            // Common case for large chunks: parse straight from the caller's slice.
            self.run(bytes).map(|used| {
                if self.header.is_none() {
                    self.pending.extend_from_slice(&bytes[used..]);
                }
            })
        } else {
            let mut pending = std::mem::take(&mut self.pending);
            pending.extend_from_slice(bytes);
            self.run(&pending).map(|used| {
                if self.header.is_none() {
                    pending.drain(..used);
                    self.pending = pending;
                }
            })
        };
        match result {
            Ok(()) => Ok(self.header.is_some()),
            Err(e) => {
                self.pending = Vec::new();
                self.failed = Some(e.clone());
                Err(e)
            }
        }
    }

    /// The header, once complete.
    pub fn header(&self) -> Option<&GgufHeader> {
        self.header.as_ref()
    }

    pub fn is_complete(&self) -> bool {
        self.header.is_some()
    }

    /// Total bytes pushed so far.
    pub fn bytes_received(&self) -> u64 {
        self.received
    }

    /// The header, or `Truncated` naming where the input stopped.
    pub fn finish(self) -> Result<GgufHeader, GgufError> {
        if let Some(e) = self.failed {
            return Err(e);
        }
        match self.header {
            Some(h) => Ok(h),
            None => Err(GgufError::Truncated {
                offset: self.received,
                context: self.describe_stage(),
            }),
        }
    }

    fn describe_stage(&self) -> String {
        match &self.stage {
            Stage::Preamble => "the file preamble (magic, version, counts)".into(),
            Stage::Key => key_context(self.metadata.len()),
            Stage::ValueType { key } => format!("the value type of metadata key \"{key}\""),
            Stage::Value { key, stack, .. } => match stack.last() {
                Some(f) => format!(
                    "the value of metadata key \"{key}\" (element {} of {})",
                    f.items.len(),
                    f.len
                ),
                None => format!("the value of metadata key \"{key}\""),
            },
            Stage::TensorName => format!("the name of tensor #{}", self.tensors.len()),
            Stage::TensorShape { name } => format!("the tensor info of \"{name}\""),
            Stage::Finishing | Stage::Done => "nothing".into(),
        }
    }

    /// Parses as many whole tokens from `data` as possible; returns the bytes consumed.
    fn run(&mut self, data: &[u8]) -> Result<usize, GgufError> {
        let mut c = Cursor { data, pos: 0 };
        loop {
            let before = c.pos;
            let progressed = self.step(&mut c)?;
            self.offset += (c.pos - before) as u64;
            if self.offset > self.limits.max_header_len {
                return Err(GgufError::CountTooLarge {
                    context: "the header length".into(),
                    offset: 0,
                    count: self.offset,
                    limit: self.limits.max_header_len,
                });
            }
            if matches!(self.stage, Stage::Finishing) {
                self.finish_header()?;
            }
            if !progressed || matches!(self.stage, Stage::Done) {
                return Ok(c.pos);
            }
        }
    }

    /// Bytes left in the file after the current position, when its length is known.
    fn file_remaining(&self, consumed_in_token: u64) -> Option<u64> {
        self.file_len
            .map(|len| len.saturating_sub(self.offset.saturating_add(consumed_in_token)))
    }

    /// Checks a declared count against the limit and, when the file length is known, against the
    /// bytes that remain.
    fn check_count(
        &self,
        context: impl Fn() -> String,
        at: u64,
        count: u64,
        limit: u64,
        min_each: u64,
        token_len: u64,
    ) -> Result<(), GgufError> {
        if count > limit {
            return Err(GgufError::CountTooLarge {
                context: context(),
                offset: self.offset + at,
                count,
                limit,
            });
        }
        if let Some(available) = self.file_remaining(token_len) {
            let needed = count.saturating_mul(min_each);
            if needed > available {
                return Err(GgufError::CountExceedsFile {
                    context: context(),
                    offset: self.offset + at,
                    count,
                    needed,
                    available,
                });
            }
        }
        Ok(())
    }

    /// Reads a string token (u64 length + UTF-8) if all of it has arrived. Errors name the
    /// token's start, which is `self.offset`: a step reads one token.
    fn string(
        &self,
        c: &mut Cursor<'_>,
        context: impl Fn() -> String,
    ) -> Result<Option<String>, GgufError> {
        let Some(len) = c.peek(8).map(le_u64) else {
            return Ok(None);
        };
        if len > self.limits.max_string_len {
            return Err(GgufError::StringTooLong {
                context: context(),
                offset: self.offset,
                len,
                limit: self.limits.max_string_len,
            });
        }
        if let Some(available) = self.file_remaining(8) {
            if len > available {
                return Err(GgufError::CountExceedsFile {
                    context: context(),
                    offset: self.offset,
                    count: len,
                    needed: len,
                    available,
                });
            }
        }
        // `len` is within max_string_len, so it fits in usize.
        let n = usize::try_from(len).unwrap_or(usize::MAX);
        if c.remaining() - 8 < n {
            return Ok(None);
        }
        c.take(8);
        let bytes = c.take(n).unwrap_or_default();
        match std::str::from_utf8(bytes) {
            Ok(s) => Ok(Some(s.to_owned())),
            Err(_) => Err(GgufError::InvalidUtf8 {
                context: context(),
                offset: self.offset,
            }),
        }
    }

    /// Parses one token. Returns whether anything was consumed; `false` means more bytes are
    /// needed. On `false` the cursor is where it was.
    fn step(&mut self, c: &mut Cursor<'_>) -> Result<bool, GgufError> {
        match std::mem::replace(&mut self.stage, Stage::Done) {
            Stage::Preamble => {
                if c.remaining() < 4 {
                    self.stage = Stage::Preamble;
                    return Ok(false);
                }
                let magic = c.peek(4).and_then(|m| <[u8; 4]>::try_from(m).ok());
                let magic = magic.unwrap_or_default();
                if magic != MAGIC {
                    return Err(GgufError::BadMagic { found: magic });
                }
                if let Some(v) = c.peek(8).map(|b| le_u32(&b[4..])) {
                    if v != 2 && v != 3 {
                        return Err(GgufError::UnsupportedVersion { version: v });
                    }
                }
                let Some(b) = c.peek(24) else {
                    self.stage = Stage::Preamble;
                    return Ok(false);
                };
                self.version = le_u32(&b[4..8]);
                let n_tensors = le_u64(&b[8..16]);
                let n_kv = le_u64(&b[16..24]);
                // Tensor infos follow the metadata: both counts share the bytes that remain.
                let min_kv = n_kv.saturating_mul(MIN_KV_LEN);
                self.check_count(
                    || "the tensor count".into(),
                    8,
                    n_tensors,
                    self.limits.max_tensors,
                    MIN_TENSOR_INFO_LEN,
                    24u64.saturating_add(min_kv),
                )?;
                self.check_count(
                    || "the metadata entry count".into(),
                    16,
                    n_kv,
                    self.limits.max_metadata_entries,
                    MIN_KV_LEN,
                    24,
                )?;
                c.take(24);
                self.n_tensors = n_tensors;
                self.n_kv = n_kv;
                self.after_metadata_entry()?;
            }
            Stage::Key => {
                let index = self.metadata.len();
                match self.string(c, || key_context(index))? {
                    Some(key) => {
                        if self.keys.contains(&key) {
                            return Err(GgufError::DuplicateKey { key });
                        }
                        self.stage = Stage::ValueType { key };
                    }
                    None => {
                        self.stage = Stage::Key;
                        return Ok(false);
                    }
                }
            }
            Stage::ValueType { key } => {
                let Some(id) = c.peek(4).map(le_u32) else {
                    self.stage = Stage::ValueType { key };
                    return Ok(false);
                };
                let Some(ty) = ValueType::from_id(id) else {
                    return Err(GgufError::UnknownValueType {
                        key,
                        offset: self.offset,
                        type_id: id,
                    });
                };
                c.take(4);
                self.stage = Stage::Value {
                    key,
                    ty,
                    stack: Vec::new(),
                };
            }
            Stage::Value { key, ty, stack } => return self.value(c, key, ty, stack),
            Stage::TensorName => {
                let index = self.tensors.len();
                match self.string(c, || format!("the name of tensor #{index}"))? {
                    Some(name) => self.stage = Stage::TensorShape { name },
                    None => {
                        self.stage = Stage::TensorName;
                        return Ok(false);
                    }
                }
            }
            Stage::TensorShape { name } => {
                let Some(n_dims) = c.peek(4).map(le_u32) else {
                    self.stage = Stage::TensorShape { name };
                    return Ok(false);
                };
                if n_dims > self.limits.max_dims {
                    return Err(GgufError::TooManyDims {
                        tensor: name,
                        n_dims,
                        limit: self.limits.max_dims,
                    });
                }
                let len = 4 + 8 * n_dims as usize + 4 + 8;
                let Some(b) = c.peek(len) else {
                    self.stage = Stage::TensorShape { name };
                    return Ok(false);
                };
                let dims: Vec<u64> = b[4..4 + 8 * n_dims as usize]
                    .chunks_exact(8)
                    .map(le_u64)
                    .collect();
                let rest = &b[4 + 8 * n_dims as usize..];
                let type_id = le_u32(&rest[..4]);
                let offset = le_u64(&rest[4..12]);
                let Some(ggml_type) = GgmlType::from_id(type_id) else {
                    return Err(GgufError::UnknownTensorType {
                        tensor: name,
                        type_id,
                    });
                };
                if let Err(source) = tensor_bytes(ggml_type, &dims) {
                    return Err(GgufError::BadShape {
                        tensor: name,
                        source,
                    });
                }
                c.take(len);
                self.tensors.push(TensorInfo {
                    name,
                    dims,
                    ggml_type,
                    offset,
                });
                self.after_tensor()?;
            }
            Stage::Finishing | Stage::Done => {}
        }
        Ok(true)
    }

    fn value(
        &mut self,
        c: &mut Cursor<'_>,
        key: String,
        ty: ValueType,
        mut stack: Vec<Frame>,
    ) -> Result<bool, GgufError> {
        let value = match ty {
            ValueType::Array => {
                let Some(b) = c.peek(12) else {
                    self.stage = Stage::Value { key, ty, stack };
                    return Ok(false);
                };
                let elem_id = le_u32(&b[..4]);
                let len = le_u64(&b[4..12]);
                let Some(elem) = ValueType::from_id(elem_id) else {
                    return Err(GgufError::UnknownValueType {
                        key,
                        offset: self.offset,
                        type_id: elem_id,
                    });
                };
                if stack.len() as u32 + 1 > self.limits.max_array_depth {
                    return Err(GgufError::NestingTooDeep {
                        key,
                        limit: self.limits.max_array_depth,
                    });
                }
                self.check_count(
                    || format!("the array at metadata key \"{key}\""),
                    4,
                    len,
                    self.limits.max_array_len,
                    elem.min_encoded_size(),
                    12,
                )?;
                self.array_elements = self.array_elements.saturating_add(len);
                if self.array_elements > self.limits.max_array_elements {
                    return Err(GgufError::TooManyArrayElements {
                        key,
                        limit: self.limits.max_array_elements,
                    });
                }
                c.take(12);
                if len > 0 {
                    // Reserve only what the bytes already here could hold.
                    let here = (c.remaining() as u64 / elem.min_encoded_size()).min(len);
                    stack.push(Frame {
                        elem,
                        len,
                        items: Vec::with_capacity(here as usize),
                    });
                    self.stage = Stage::Value {
                        key,
                        ty: elem,
                        stack,
                    };
                    return Ok(true);
                }
                MetadataValue::Array(Vec::new())
            }
            ValueType::String => {
                let ctx = || match stack.last() {
                    Some(f) => {
                        format!("string element {} of metadata key \"{key}\"", f.items.len())
                    }
                    None => format!("the string value of metadata key \"{key}\""),
                };
                match self.string(c, ctx)? {
                    Some(s) => MetadataValue::String(s),
                    None => {
                        self.stage = Stage::Value { key, ty, stack };
                        return Ok(false);
                    }
                }
            }
            fixed => {
                let n = fixed.fixed_size().unwrap_or(1);
                let Some(b) = c.take(n) else {
                    self.stage = Stage::Value { key, ty, stack };
                    return Ok(false);
                };
                match fixed {
                    ValueType::U8 => MetadataValue::U8(b[0]),
                    ValueType::I8 => MetadataValue::I8(b[0] as i8),
                    ValueType::U16 => MetadataValue::U16(u16::from_le_bytes([b[0], b[1]])),
                    ValueType::I16 => MetadataValue::I16(i16::from_le_bytes([b[0], b[1]])),
                    ValueType::U32 => MetadataValue::U32(le_u32(b)),
                    ValueType::I32 => MetadataValue::I32(le_u32(b) as i32),
                    ValueType::F32 => MetadataValue::F32(f32::from_bits(le_u32(b))),
                    // ggml reads the byte as a C bool; any non-zero byte is true.
                    ValueType::Bool => MetadataValue::Bool(b[0] != 0),
                    ValueType::U64 => MetadataValue::U64(le_u64(b)),
                    ValueType::I64 => MetadataValue::I64(le_u64(b) as i64),
                    _ => MetadataValue::F64(f64::from_bits(le_u64(b))),
                }
            }
        };
        // Deliver the value to the innermost array, closing every array it completes.
        let mut value = value;
        while let Some(top) = stack.last_mut() {
            top.items.push(value);
            if (top.items.len() as u64) < top.len {
                let elem = top.elem;
                self.stage = Stage::Value {
                    key,
                    ty: elem,
                    stack,
                };
                return Ok(true);
            }
            let done = stack.pop().map(|f| f.items).unwrap_or_default();
            value = MetadataValue::Array(done);
        }
        self.keys.insert(key.clone());
        self.metadata.push((key, value));
        self.after_metadata_entry()?;
        Ok(true)
    }

    fn after_metadata_entry(&mut self) -> Result<(), GgufError> {
        if (self.metadata.len() as u64) < self.n_kv {
            self.stage = Stage::Key;
            return Ok(());
        }
        self.keys = HashSet::new();
        self.stage = Stage::TensorName;
        self.after_tensor_infos_if_done()
    }

    fn after_tensor(&mut self) -> Result<(), GgufError> {
        self.stage = Stage::TensorName;
        self.after_tensor_infos_if_done()
    }

    fn after_tensor_infos_if_done(&mut self) -> Result<(), GgufError> {
        if (self.tensors.len() as u64) == self.n_tensors {
            self.stage = Stage::Finishing;
        }
        Ok(())
    }

    /// Called with `self.offset` at the end of the tensor infos.
    fn finish_header(&mut self) -> Result<(), GgufError> {
        let alignment = match self.metadata.iter().find(|(k, _)| k == "general.alignment") {
            None => DEFAULT_ALIGNMENT,
            Some((_, MetadataValue::U32(a))) if a.is_power_of_two() => u64::from(*a),
            Some((_, v)) => {
                return Err(GgufError::BadAlignment {
                    found: format!("{v:?}"),
                })
            }
        };
        let data_offset = self
            .offset
            .checked_next_multiple_of(alignment)
            .ok_or_else(|| GgufError::BadAlignment {
                found: format!("{alignment} (data offset overflows)"),
            })?;
        let tensors = std::mem::take(&mut self.tensors);
        check_tensor_layout(&tensors, alignment, data_offset, self.file_len)?;
        self.stage = Stage::Done;
        self.header = Some(GgufHeader {
            version: self.version,
            metadata: std::mem::take(&mut self.metadata),
            tensors,
            alignment,
            data_offset,
        });
        Ok(())
    }
}

/// Names unique, offsets aligned, data within the file (when its length is known), no two
/// tensors sharing bytes.
fn check_tensor_layout(
    tensors: &[TensorInfo],
    alignment: u64,
    data_offset: u64,
    file_len: Option<u64>,
) -> Result<(), GgufError> {
    let mut names = HashSet::with_capacity(tensors.len());
    let mut spans = Vec::with_capacity(tensors.len());
    for (i, t) in tensors.iter().enumerate() {
        if !names.insert(t.name.as_str()) {
            return Err(GgufError::DuplicateTensor {
                tensor: t.name.clone(),
            });
        }
        if !t.offset.is_multiple_of(alignment) {
            return Err(GgufError::MisalignedTensor {
                tensor: t.name.clone(),
                offset: t.offset,
                alignment,
            });
        }
        // The shape was checked when the tensor was read.
        let size = t.byte_size().map_err(|source| GgufError::BadShape {
            tensor: t.name.clone(),
            source,
        })?;
        let out_of_bounds = |start: u64, end: u64| GgufError::TensorOutOfBounds {
            tensor: t.name.clone(),
            start,
            end,
            file_len: file_len.unwrap_or(u64::MAX),
        };
        let start = data_offset
            .checked_add(t.offset)
            .ok_or_else(|| out_of_bounds(u64::MAX, u64::MAX))?;
        let end = start
            .checked_add(size)
            .ok_or_else(|| out_of_bounds(start, u64::MAX))?;
        if let Some(len) = file_len {
            if end > len {
                return Err(out_of_bounds(start, end));
            }
        }
        spans.push((t.offset, t.offset + size, i));
    }
    spans.sort_unstable();
    for w in spans.windows(2) {
        let ((_, end_a, a), (start_b, _, b)) = (w[0], w[1]);
        if start_b < end_a {
            return Err(GgufError::OverlappingTensors {
                tensor: tensors[b].name.clone(),
                other: tensors[a].name.clone(),
            });
        }
    }
    Ok(())
}

impl GgufHeader {
    /// Parses the header from the start of a file (any prefix that holds the whole header).
    /// Tensor data is not checked against a file end. `Truncated` if the prefix is too short.
    pub fn parse(bytes: &[u8]) -> Result<GgufHeader, GgufError> {
        let mut r = GgufReader::new();
        r.push(bytes)?;
        r.finish()
    }

    /// Parses the header of a whole file, and checks that every tensor's data lies within it.
    pub fn parse_file(bytes: &[u8]) -> Result<GgufHeader, GgufError> {
        let mut r = GgufReader::new().with_file_len(bytes.len() as u64);
        r.push(bytes)?;
        r.finish()
    }

    /// Reads the header from a stream, in 64 KiB reads; stops once the header is complete (a
    /// little of the data section may have been read). Give `file_len` to check tensor bounds.
    pub fn read_from(
        mut source: impl Read,
        file_len: Option<u64>,
    ) -> Result<GgufHeader, GgufError> {
        let mut r = GgufReader::new();
        if let Some(len) = file_len {
            r = r.with_file_len(len);
        }
        let mut buf = vec![0u8; 64 << 10];
        loop {
            let n = match source.read(&mut buf) {
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e.into()),
            };
            if n == 0 || r.push(&buf[..n])? {
                return r.finish();
            }
        }
    }
}
