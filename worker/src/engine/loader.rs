//! Streams a GGUF file into GPU buffers as its bytes arrive, in file order ([`ModelLoader::push`]
//! takes chunks of any size, e.g. network chunks in the browser): the model's
//! [`TensorStream`] parses the header, plans every tensor's buffers (so an adapter too small
//! fails before the rest is downloaded), then writes each tensor's bytes straight into its GPU
//! buffers; nothing holds the whole model in memory. Only the small F32 tensors (norms, RoPE
//! factors) are gathered on the CPU until complete.

use super::model::{attention_heads, Kernels};
use super::projections::{Member, Projections, Stack, GATE_UP, QKV};
use super::weights::{LayerWeights, ModelWeights};
use super::{EngineError, GpuModel, LoadOptions};
use crate::gguf::{GgmlType, GgufHeader, TensorInfo};
use crate::gpu::kernels::matmul::MatmulLayout;
use crate::gpu::{max_part_bytes, GpuContext, GpuWeight, WeightEncoding};
use crate::model::{tensors, Config, LayerTensor, ModelError};
use crate::model::{TensorDestination, TensorRole, TensorStream};
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;
use wgpu::util::DeviceExt;

enum Sink {
    Matrix(GpuWeight),
    /// Member `index` of a layer's stack (`projections.rs`), shared by its members' sinks.
    Member {
        stack: Rc<RefCell<Stack>>,
        key: StackKey,
        index: usize,
    },
    F32(Vec<u8>),
}

/// A stack: its layer, and whether it is q/k/v (else gate/up).
type StackKey = (usize, bool);

/// Makes each matrix's GPU buffers when the plan is made and writes pieces into them, stored as
/// the adapter's kernels read them.
struct GpuDestination {
    ctx: Arc<GpuContext>,
    part_limit: u64,
    layout: MatmulLayout,
    /// The matrices' weight types and the token embedding's, as the plan names them.
    matrix_types: Vec<GgmlType>,
    embedding_type: Option<GgmlType>,
    /// The layers' stacks, as the plan names their members.
    stacks: HashMap<StackKey, Rc<RefCell<Stack>>>,
}

/// The stack `name` is a member of, and its index there.
fn stack_member(name: &str) -> Option<(StackKey, usize)> {
    let (layer, kind) = LayerTensor::parse(name)?;
    let qkv = QKV
        .iter()
        .position(|&t| t == kind)
        .map(|i| ((layer, true), i));
    qkv.or_else(|| {
        GATE_UP
            .iter()
            .position(|&t| t == kind)
            .map(|i| ((layer, false), i))
    })
}

impl GpuDestination {
    /// The pipelines for the planned matrices (`None` before the plan names a token
    /// embedding: the model then fails for the missing tensor).
    fn kernels(&self, config: &Config) -> Result<Option<Kernels>, EngineError> {
        let Some(embedding_type) = self.embedding_type else {
            return Ok(None);
        };
        let types = self.matrix_types.iter().copied();
        Kernels::new(
            &self.ctx,
            self.layout,
            types,
            embedding_type,
            attention_heads(config),
        )
        .map(Some)
    }
}

impl TensorDestination for GpuDestination {
    type Sink = Sink;
    type Error = EngineError;

    fn make(
        &mut self,
        name: &str,
        info: &TensorInfo,
        role: TensorRole,
        bytes: u64,
    ) -> Result<Sink, EngineError> {
        Ok(match role {
            TensorRole::Matrix => {
                self.matrix_types.push(info.ggml_type);
                if name == tensors::TOKEN_EMBD {
                    self.embedding_type = Some(info.ggml_type);
                }
                let (cols, rows) = info.rows();
                let (Ok(rows), Ok(cols)) = (u32::try_from(rows), u32::try_from(cols)) else {
                    return Err(EngineError::UnsupportedShape(format!(
                        "tensor {name}: shape {:?}",
                        info.dims
                    )));
                };
                if let Some((key, index)) = stack_member(name) {
                    let members = if key.1 { QKV.len() } else { GATE_UP.len() };
                    let stack = self
                        .stacks
                        .entry(key)
                        .or_insert_with(|| Rc::new(RefCell::new(Stack::new(members))))
                        .clone();
                    let layout = self.layout;
                    stack.borrow_mut().name_member(
                        &self.ctx.device,
                        self.part_limit,
                        index,
                        Member {
                            name: name.into(),
                            ty: info.ggml_type,
                            rows,
                            cols,
                        },
                        |ty| WeightEncoding::for_weights(ty, layout),
                    )?;
                    return Ok(Sink::Member { stack, key, index });
                }
                Sink::Matrix(GpuWeight::encoded(
                    &self.ctx.device,
                    self.part_limit,
                    name,
                    info.ggml_type,
                    WeightEncoding::for_weights(info.ggml_type, self.layout),
                    rows,
                    cols,
                )?)
            }
            // Small: the norms and RoPE factors (the stream checked they are F32 and lie
            // inside the file).
            TensorRole::Vector => Sink::F32(Vec::with_capacity(bytes as usize)),
        })
    }

    fn write(&mut self, sink: &mut Sink, offset: u64, piece: &[u8]) -> Result<(), EngineError> {
        match sink {
            Sink::Matrix(w) => w.write_bytes(&self.ctx.queue, offset, piece)?,
            Sink::Member { stack, index, .. } => {
                stack
                    .borrow_mut()
                    .write(&self.ctx.queue, *index, offset, piece)?
            }
            Sink::F32(v) => v.extend_from_slice(piece),
        }
        Ok(())
    }
}

/// Push loader: feed the file's bytes in order with [`Self::push`], then [`Self::finish`].
pub struct ModelLoader {
    destination: GpuDestination,
    options: LoadOptions,
    stream: TensorStream<Sink>,
    /// Built once the plan is made, while the weights stream in (boxed: the loader stays
    /// small).
    kernels: Option<Box<Kernels>>,
}

impl ModelLoader {
    /// `file_len`, when known, lets the header parser check every tensor against the file end.
    pub fn new(ctx: Arc<GpuContext>, file_len: Option<u64>, options: LoadOptions) -> Self {
        let part_limit = options
            .max_part_bytes
            .unwrap_or_else(|| max_part_bytes(&ctx.limits));
        Self {
            destination: GpuDestination {
                layout: options.layout_for(&ctx),
                ctx,
                part_limit,
                matrix_types: Vec::new(),
                embedding_type: None,
                stacks: HashMap::new(),
            },
            options,
            stream: TensorStream::new(file_len),
            kernels: None,
        }
    }

    /// The model's configuration, once the header is complete.
    pub fn config(&self) -> Option<&Config> {
        self.stream.config()
    }

    /// The file's header, once complete (the tokenizer and chat template are built from it).
    pub fn header(&self) -> Option<&GgufHeader> {
        self.stream.header()
    }

    /// Bytes pushed so far.
    pub fn bytes_received(&self) -> u64 {
        self.stream.bytes_received()
    }

    /// True once every tensor the model needs has all its bytes.
    pub fn is_complete(&self) -> bool {
        self.stream.is_complete()
    }

    /// Feeds the next bytes of the file. The push that completes the plan also starts building
    /// the pipelines.
    pub fn push(&mut self, bytes: &[u8]) -> Result<(), EngineError> {
        self.stream.push(&mut self.destination, bytes)?;
        if self.kernels.is_none() {
            if let Some(config) = self.stream.config() {
                self.kernels = self.destination.kernels(config)?.map(Box::new);
            }
        }
        Ok(())
    }

    /// Builds the model once every tensor arrived.
    pub fn finish(self) -> Result<GpuModel, EngineError> {
        let (config, sinks) = self.stream.finish()?;
        let device = &self.destination.ctx.device;
        let mut matrices = HashMap::new();
        let mut vectors = HashMap::new();
        let mut stacks = HashMap::new();
        for (name, sink) in sinks {
            match sink {
                Sink::Matrix(w) => {
                    matrices.insert(name, w);
                }
                Sink::Member { stack, key, .. } => {
                    stacks.insert(key, stack);
                }
                Sink::F32(bytes) => {
                    let buffer = device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
                        label: Some(&name),
                        contents: &bytes,
                        usage: wgpu::BufferUsages::STORAGE,
                    });
                    vectors.insert(name, buffer);
                }
            }
        }
        drop(self.destination.stacks);
        let missing = |name: &str| ModelError::Incomplete(format!("tensor {name} was not loaded"));
        let mut take_stack = |key: StackKey| -> Result<Projections, EngineError> {
            let what = if key.1 { "q/k/v" } else { "gate/up" };
            let incomplete = || missing(&format!("{what} of layer {}", key.0));
            let stack = stacks.remove(&key).ok_or_else(incomplete)?;
            let stack = Rc::try_unwrap(stack)
                .map_err(|_| incomplete())?
                .into_inner();
            Ok(stack.finish().ok_or_else(incomplete)?)
        };
        let mut take_m = |name: &str| matrices.remove(name).ok_or_else(|| missing(name));
        let token_embd = take_m(tensors::TOKEN_EMBD)?;
        let output = take_m(tensors::OUTPUT).ok();
        let mut layers = Vec::with_capacity(config.n_layers);
        for l in 0..config.n_layers {
            let mut m = |t: LayerTensor| take_m(&t.name(l));
            let (wo, down) = (m(LayerTensor::AttnOutput)?, m(LayerTensor::FfnDown)?);
            let (qkv, gate_up) = (take_stack((l, true))?, take_stack((l, false))?);
            let mut v = |t: LayerTensor| {
                let name = t.name(l);
                vectors.remove(&name).ok_or_else(|| missing(&name))
            };
            layers.push(LayerWeights {
                attn_norm: v(LayerTensor::AttnNorm)?,
                ffn_norm: v(LayerTensor::FfnNorm)?,
                qkv,
                wo,
                gate_up,
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
        GpuModel::new(
            self.destination.ctx,
            config,
            weights,
            self.kernels.map(|k| *k),
            self.options,
        )
    }
}

/// Loads a GGUF file from disk in 4 MiB reads (native tools and tests).
#[cfg(not(target_arch = "wasm32"))]
pub fn load_file(
    ctx: Arc<GpuContext>,
    path: &std::path::Path,
    options: LoadOptions,
) -> Result<GpuModel, EngineError> {
    let mut loader = ModelLoader::new(ctx, None, options);
    loader.stream = crate::model::stream::push_file(path, &mut loader.destination)?;
    loader.finish()
}
