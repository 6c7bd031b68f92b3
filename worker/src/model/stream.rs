//! Streams a GGUF file, in file order and in pieces of any size (network chunks in the browser,
//! reads of a local file), into one destination per tensor the model needs: the header is
//! parsed incrementally, then the tensors are planned (each destination made, empty, before
//! its first byte arrives, so a model that cannot fit fails early) and every piece's bytes go
//! straight to the tensors they belong to. Nothing holds the whole file.
//!
//! Where the bytes go is the [`TensorDestination`]'s business: GPU buffers for the GPU engine,
//! wasm memory for the CPU engine.

use super::tensors::{self, LayerTensor};
use super::{validate_tensors, Config, ModelError};
use crate::gguf::{GgmlType, GgufError, GgufHeader, GgufReader, TensorInfo};
use std::collections::HashMap;
use std::ops::Range;

/// What a tensor is to the model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TensorRole {
    /// A weight matrix (any quantization the backend reads).
    Matrix,
    /// A small F32 vector (norm weights, RoPE factors).
    Vector,
}

/// Where a backend keeps a tensor's bytes as they arrive.
pub trait TensorDestination {
    /// One tensor's place.
    type Sink;
    type Error: From<ModelError> + From<GgufError>;

    /// Makes the (empty) place of `name`, whose data is `bytes` long.
    fn make(
        &mut self,
        name: &str,
        info: &TensorInfo,
        role: TensorRole,
        bytes: u64,
    ) -> Result<Self::Sink, Self::Error>;

    /// Writes `piece` at `offset` into the tensor's data. Pieces come in order, without gaps.
    fn write(
        &mut self,
        sink: &mut Self::Sink,
        offset: u64,
        piece: &[u8],
    ) -> Result<(), Self::Error>;
}

/// One tensor the model needs and where its bytes lie in the file.
struct Target<S> {
    name: String,
    range: Range<u64>,
    received: u64,
    sink: S,
}

struct Planned<S> {
    config: Config,
    /// In file order.
    targets: Vec<Target<S>>,
    /// First target not yet complete.
    next: usize,
}

impl<S> Planned<S> {
    fn skip_complete(&mut self) {
        while self
            .targets
            .get(self.next)
            .is_some_and(|t| t.received == t.range.end - t.range.start)
        {
            self.next += 1;
        }
    }
}

/// Push side of a model load: feed the file's bytes in order with [`Self::push`], then take
/// the tensors with [`Self::finish`].
pub struct TensorStream<S> {
    reader: GgufReader,
    /// Bytes pushed so far (the absolute offset of the next piece).
    offset: u64,
    planned: Option<Planned<S>>,
}

impl<S> TensorStream<S> {
    /// `file_len`, when known, lets the header parser check every tensor against the file end.
    pub fn new(file_len: Option<u64>) -> Self {
        let mut reader = GgufReader::new();
        if let Some(len) = file_len {
            reader = reader.with_file_len(len);
        }
        Self {
            reader,
            offset: 0,
            planned: None,
        }
    }

    /// The model's configuration, once the header is complete.
    pub fn config(&self) -> Option<&Config> {
        self.planned.as_ref().map(|p| &p.config)
    }

    /// The file's header, once complete (the tokenizer and chat template are built from it).
    pub fn header(&self) -> Option<&GgufHeader> {
        self.reader.header()
    }

    /// Bytes pushed so far.
    pub fn bytes_received(&self) -> u64 {
        self.offset
    }

    /// True once every tensor the model needs has all its bytes.
    pub fn is_complete(&self) -> bool {
        self.planned
            .as_ref()
            .is_some_and(|p| p.next == p.targets.len())
    }

    /// Feeds the next bytes of the file.
    pub fn push<D: TensorDestination<Sink = S>>(
        &mut self,
        destination: &mut D,
        bytes: &[u8],
    ) -> Result<(), D::Error> {
        let start = self.offset;
        self.offset += bytes.len() as u64;
        if self.planned.is_none() {
            if !self.reader.push(bytes)? {
                return Ok(());
            }
            let header = self
                .reader
                .header()
                .ok_or_else(|| ModelError::Incomplete("the GGUF header".into()))?;
            self.planned = Some(plan(header, destination)?);
        }
        let planned = self.planned.as_mut().expect("planned above");
        let end = self.offset;
        let mut i = planned.next;
        while i < planned.targets.len() && planned.targets[i].range.start < end {
            let t = &mut planned.targets[i];
            let lo = t.range.start.max(start).max(t.range.start + t.received);
            let hi = t.range.end.min(end);
            if lo < hi {
                let piece = &bytes[(lo - start) as usize..(hi - start) as usize];
                destination.write(&mut t.sink, lo - t.range.start, piece)?;
                t.received = hi - t.range.start;
            }
            i += 1;
        }
        planned.skip_complete();
        Ok(())
    }

    /// The configuration and every tensor's sink by name, once all arrived.
    pub fn finish(self) -> Result<(Config, HashMap<String, S>), ModelError> {
        let Some(planned) = self.planned else {
            return Err(ModelError::Incomplete(
                "the GGUF header is not complete".into(),
            ));
        };
        if let Some(t) = planned.targets.get(planned.next) {
            return Err(ModelError::Incomplete(format!(
                "tensor {} has {} of its {} bytes",
                t.name,
                t.received,
                t.range.end - t.range.start
            )));
        }
        let sinks = planned
            .targets
            .into_iter()
            .map(|t| (t.name, t.sink))
            .collect();
        Ok((planned.config, sinks))
    }
}

/// The tensors to load, in file order, each with its destination made (empty).
fn plan<D: TensorDestination>(
    header: &GgufHeader,
    destination: &mut D,
) -> Result<Planned<D::Sink>, D::Error> {
    let config = Config::from_gguf(header)?;
    validate_tensors(header, &config)?;
    let mut names: Vec<(String, TensorRole)> = vec![
        (tensors::TOKEN_EMBD.into(), TensorRole::Matrix),
        (tensors::OUTPUT_NORM.into(), TensorRole::Vector),
        (tensors::OUTPUT.into(), TensorRole::Matrix),
        (tensors::ROPE_FREQS.into(), TensorRole::Vector),
    ];
    for l in 0..config.n_layers {
        for t in LayerTensor::ALL {
            let role = match t {
                LayerTensor::AttnNorm | LayerTensor::FfnNorm => TensorRole::Vector,
                _ => TensorRole::Matrix,
            };
            names.push((t.name(l), role));
        }
    }
    let mut targets = Vec::new();
    for (name, role) in names {
        let Some(info) = header.tensor(&name) else {
            continue; // optional ones (output, rope_freqs); validate_tensors checked the rest
        };
        let range = header
            .tensor_data_range(info)
            .ok_or_else(|| ModelError::TensorOutOfBounds { name: name.clone() })?;
        if role == TensorRole::Vector && info.ggml_type != GgmlType::F32 {
            return Err(ModelError::TensorType {
                name,
                ty: info.ggml_type,
            }
            .into());
        }
        let sink = destination.make(&name, info, role, range.end - range.start)?;
        targets.push(Target {
            name,
            range,
            received: 0,
            sink,
        });
    }
    targets.sort_by_key(|t| t.range.start);
    let mut planned = Planned {
        config,
        targets,
        next: 0,
    };
    planned.skip_complete();
    Ok(planned)
}

/// Pushes a file from disk through `stream` in 4 MiB reads (native tools and tests).
#[cfg(not(target_arch = "wasm32"))]
pub fn push_file<D: TensorDestination>(
    path: &std::path::Path,
    destination: &mut D,
) -> Result<TensorStream<D::Sink>, D::Error>
where
    D::Error: From<std::io::Error>,
{
    use std::io::Read;
    let mut file = std::fs::File::open(path)?;
    let len = file.metadata()?.len();
    let mut stream = TensorStream::new(Some(len));
    let mut buf = vec![0u8; 4 << 20];
    loop {
        let n = match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e.into()),
        };
        stream.push(destination, &buf[..n])?;
    }
    Ok(stream)
}
