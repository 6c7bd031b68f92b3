//! Streams a GGUF file into GPU buffers as its bytes arrive, in file order ([`ModelLoader::push`]
//! takes chunks of any size, e.g. network chunks in the browser): the header is parsed
//! incrementally, then each tensor's bytes go straight into its GPU buffers; nothing holds the
//! whole model in memory. Only the small F32 tensors (norms, RoPE factors) are gathered on the
//! CPU until complete.

use super::weights::{LayerWeights, ModelWeights};
use super::{EngineError, GpuModel, LoadOptions};
use crate::gguf::{GgmlType, GgufHeader, GgufReader};
use crate::gpu::{max_part_bytes, GpuContext, GpuWeight};
use crate::model::{tensors, validate_tensors, Config, LayerTensor};
use std::collections::HashMap;
use std::ops::Range;
use std::sync::Arc;
use wgpu::util::DeviceExt;

enum Sink {
    Matrix(GpuWeight),
    F32(Vec<u8>),
}

/// One tensor the model needs and where its bytes lie in the file.
struct Target {
    name: String,
    range: Range<u64>,
    received: u64,
    sink: Sink,
}

struct Loading {
    config: Config,
    /// In file order.
    targets: Vec<Target>,
    /// First target not yet complete.
    next: usize,
}

impl Loading {
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

/// Push loader: feed the file's bytes in order with [`Self::push`], then [`Self::finish`].
pub struct ModelLoader {
    ctx: Arc<GpuContext>,
    options: LoadOptions,
    reader: GgufReader,
    /// Bytes pushed so far (the absolute offset of the next chunk).
    offset: u64,
    loading: Option<Loading>,
}

impl ModelLoader {
    /// `file_len`, when known, lets the header parser check every tensor against the file end.
    pub fn new(ctx: Arc<GpuContext>, file_len: Option<u64>, options: LoadOptions) -> Self {
        let mut reader = GgufReader::new();
        if let Some(len) = file_len {
            reader = reader.with_file_len(len);
        }
        Self {
            ctx,
            options,
            reader,
            offset: 0,
            loading: None,
        }
    }

    /// The model's configuration, once the header is complete.
    pub fn config(&self) -> Option<&Config> {
        self.loading.as_ref().map(|l| &l.config)
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
        self.loading
            .as_ref()
            .is_some_and(|l| l.next == l.targets.len())
    }

    /// Feeds the next bytes of the file.
    pub fn push(&mut self, bytes: &[u8]) -> Result<(), EngineError> {
        let start = self.offset;
        self.offset += bytes.len() as u64;
        if self.loading.is_none() {
            if !self.reader.push(bytes)? {
                return Ok(());
            }
            let header = self
                .reader
                .header()
                .cloned()
                .ok_or_else(|| EngineError::Incomplete("the GGUF header".into()))?;
            self.loading = Some(self.plan(&header)?);
        }
        let queue = &self.ctx.queue;
        let loading = self.loading.as_mut().expect("planned above");
        let end = self.offset;
        let mut i = loading.next;
        while i < loading.targets.len() && loading.targets[i].range.start < end {
            let t = &mut loading.targets[i];
            let lo = t.range.start.max(start).max(t.range.start + t.received);
            let hi = t.range.end.min(end);
            if lo < hi {
                let piece = &bytes[(lo - start) as usize..(hi - start) as usize];
                match &mut t.sink {
                    Sink::Matrix(w) => w.write_bytes(queue, lo - t.range.start, piece)?,
                    Sink::F32(v) => v.extend_from_slice(piece),
                }
                t.received = hi - t.range.start;
            }
            i += 1;
        }
        loading.skip_complete();
        Ok(())
    }

    /// Builds the model once every tensor arrived.
    pub fn finish(self) -> Result<GpuModel, EngineError> {
        let Some(loading) = self.loading else {
            return Err(EngineError::Incomplete(
                "the GGUF header is not complete".into(),
            ));
        };
        if let Some(t) = loading.targets.get(loading.next) {
            return Err(EngineError::Incomplete(format!(
                "tensor {} has {} of its {} bytes",
                t.name,
                t.received,
                t.range.end - t.range.start
            )));
        }
        let device = &self.ctx.device;
        let mut matrices = HashMap::new();
        let mut vectors = HashMap::new();
        for t in loading.targets {
            match t.sink {
                Sink::Matrix(w) => {
                    matrices.insert(t.name, w);
                }
                Sink::F32(bytes) => {
                    let buffer = device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
                        label: Some(&t.name),
                        contents: &bytes,
                        usage: wgpu::BufferUsages::STORAGE,
                    });
                    vectors.insert(t.name, buffer);
                }
            }
        }
        let missing = |name: &str| EngineError::Incomplete(format!("tensor {name} was not loaded"));
        let mut take_m = |name: &str| matrices.remove(name).ok_or_else(|| missing(name));
        let token_embd = take_m(tensors::TOKEN_EMBD)?;
        let output = take_m(tensors::OUTPUT).ok();
        let config = loading.config;
        let mut layers = Vec::with_capacity(config.n_layers);
        for l in 0..config.n_layers {
            let mut m = |t: LayerTensor| take_m(&t.name(l));
            let (wq, wk, wv, wo) = (
                m(LayerTensor::AttnQ)?,
                m(LayerTensor::AttnK)?,
                m(LayerTensor::AttnV)?,
                m(LayerTensor::AttnOutput)?,
            );
            let (gate, up, down) = (
                m(LayerTensor::FfnGate)?,
                m(LayerTensor::FfnUp)?,
                m(LayerTensor::FfnDown)?,
            );
            let mut v = |t: LayerTensor| {
                let name = t.name(l);
                vectors.remove(&name).ok_or_else(|| missing(&name))
            };
            layers.push(LayerWeights {
                attn_norm: v(LayerTensor::AttnNorm)?,
                ffn_norm: v(LayerTensor::FfnNorm)?,
                wq,
                wk,
                wv,
                wo,
                gate,
                up,
                down,
            });
        }
        let weights = ModelWeights {
            token_embd,
            output,
            output_norm: vectors
                .remove(tensors::OUTPUT_NORM)
                .ok_or_else(|| missing(tensors::OUTPUT_NORM))?,
            rope_freqs: vectors.remove(tensors::ROPE_FREQS),
            layers,
        };
        GpuModel::new(self.ctx, config, weights, self.options)
    }

    /// The tensors to load, in file order, with their GPU buffers made (empty).
    fn plan(&self, header: &GgufHeader) -> Result<Loading, EngineError> {
        let config = Config::from_gguf(header)?;
        validate_tensors(header, &config)?;
        let part_limit = self
            .options
            .max_part_bytes
            .unwrap_or_else(|| max_part_bytes(&self.ctx.limits));
        let mut names: Vec<(String, bool)> = vec![
            (tensors::TOKEN_EMBD.into(), true),
            (tensors::OUTPUT_NORM.into(), false),
            (tensors::OUTPUT.into(), true),
            (tensors::ROPE_FREQS.into(), false),
        ];
        for l in 0..config.n_layers {
            for t in LayerTensor::ALL {
                let vector = matches!(t, LayerTensor::AttnNorm | LayerTensor::FfnNorm);
                names.push((t.name(l), !vector));
            }
        }
        let mut targets = Vec::new();
        for (name, matrix) in names {
            let Some(info) = header.tensor(&name) else {
                continue; // optional ones (output, rope_freqs); validate_tensors checked the rest
            };
            let range = header
                .tensor_data_range(info)
                .ok_or_else(|| EngineError::Incomplete(format!("tensor {name}: bad size")))?;
            let sink = if matrix {
                let (cols, rows) = info.rows();
                let too_big = |what: u64| u32::try_from(what).ok();
                let (Some(rows), Some(cols)) = (too_big(rows), too_big(cols)) else {
                    return Err(EngineError::Incomplete(format!(
                        "tensor {name}: shape {:?}",
                        info.dims
                    )));
                };
                Sink::Matrix(GpuWeight::with_part_limit(
                    &self.ctx.device,
                    part_limit,
                    &name,
                    info.ggml_type,
                    rows,
                    cols,
                )?)
            } else {
                if info.ggml_type != GgmlType::F32 {
                    return Err(EngineError::TensorType {
                        name,
                        ty: info.ggml_type,
                        expected: "F32",
                    });
                }
                Sink::F32(Vec::with_capacity((range.end - range.start) as usize))
            };
            targets.push(Target {
                name,
                range,
                received: 0,
                sink,
            });
        }
        targets.sort_by_key(|t| t.range.start);
        let mut loading = Loading {
            config,
            targets,
            next: 0,
        };
        loading.skip_complete();
        Ok(loading)
    }
}

/// Loads a GGUF file from disk in 4 MiB reads (native tools and tests).
#[cfg(not(target_arch = "wasm32"))]
pub fn load_file(
    ctx: Arc<GpuContext>,
    path: &std::path::Path,
    options: LoadOptions,
) -> Result<GpuModel, EngineError> {
    use std::io::Read;
    let mut file = std::fs::File::open(path)?;
    let len = file.metadata()?.len();
    let mut loader = ModelLoader::new(ctx, Some(len), options);
    let mut buf = vec![0u8; 4 << 20];
    loop {
        let n = match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e.into()),
        };
        loader.push(&buf[..n])?;
    }
    loader.finish()
}
