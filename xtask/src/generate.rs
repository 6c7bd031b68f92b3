//! `cargo xtask generate --model M.gguf --prompt TEXT`: runs the engine natively and streams
//! the reply to stdout. `--json` adds a last line with the ids, the text and the speeds.

use anyhow::{bail, Context, Result};
use hearth_worker::chat::{ChatDate, ChatTemplate, Message, RenderOptions};
use hearth_worker::cpu::CpuModel;
use hearth_worker::engine::{self, GpuModel, LoadOptions};
use hearth_worker::gguf::GgufHeader;
use hearth_worker::gpu::GpuContext;
use hearth_worker::sampler::{Candidates, Sampler, SamplerSettings};
use hearth_worker::tokenizer::Tokenizer;
use std::io::{BufReader, Write};
use std::path::PathBuf;
use std::time::Instant;

#[derive(clap::Args)]
pub struct Args {
    /// The GGUF model.
    #[arg(long)]
    pub model: PathBuf,
    /// The user's message, rendered with the model's chat template (or the text itself with
    /// `--raw`).
    #[arg(long)]
    pub prompt: String,
    /// A system message before the user's.
    #[arg(long, conflicts_with = "raw")]
    pub system: Option<String>,
    /// Most tokens to generate.
    #[arg(long, default_value_t = 256)]
    pub max_tokens: usize,
    /// 0 picks the most likely token every time (greedy).
    #[arg(long, default_value_t = 0.0)]
    pub temperature: f32,
    /// Keep the K most likely tokens when sampling (0 = all).
    #[arg(long, default_value_t = 40)]
    pub top_k: usize,
    #[arg(long, default_value_t = 0.9)]
    pub top_p: f32,
    #[arg(long, default_value_t = 0x5EED)]
    pub seed: u64,
    #[arg(long, value_enum, default_value_t = Backend::Gpu)]
    pub backend: Backend,
    /// Print `{"prompt_ids", "ids", "text", "prefill_tok_s", "decode_tok_s"}` as the last line.
    #[arg(long)]
    pub json: bool,
    /// Tokenize the prompt as it is (special-token text recognised, BOS if the vocabulary
    /// asks for one) instead of rendering a chat.
    #[arg(long)]
    pub raw: bool,
    /// Keep going past end-of-generation tokens, up to `--max-tokens`.
    #[arg(long)]
    pub ignore_eos: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Backend {
    /// The WebGPU engine natively (Vulkan; lavapipe without a GPU).
    Gpu,
    /// The plain-Rust f32 reference.
    Cpu,
}

/// A loaded model on either backend, handing the sampler its candidates.
enum Engine {
    Cpu(Box<CpuModel>),
    Gpu {
        model: Box<GpuModel>,
        runtime: tokio::runtime::Runtime,
    },
}

impl Engine {
    fn load(backend: Backend, path: &std::path::Path, window: usize) -> Result<Self> {
        Ok(match backend {
            Backend::Cpu => Engine::Cpu(Box::new(
                CpuModel::load_file(path, Some(window))
                    .with_context(|| format!("loading {}", path.display()))?,
            )),
            Backend::Gpu => {
                let runtime = tokio::runtime::Builder::new_current_thread().build()?;
                let ctx = runtime
                    .block_on(GpuContext::new())
                    .context("opening the GPU")?;
                let options = LoadOptions {
                    max_context: Some(window),
                    ..LoadOptions::default()
                };
                let model = engine::load_file(std::sync::Arc::new(ctx), path, options)
                    .with_context(|| format!("loading {} onto the GPU", path.display()))?;
                Engine::Gpu {
                    model: Box::new(model),
                    runtime,
                }
            }
        })
    }

    fn vocab_size(&self) -> usize {
        match self {
            Engine::Cpu(m) => m.config.vocab_size,
            Engine::Gpu { model, .. } => model.config().vocab_size,
        }
    }

    /// Positions the model can hold in this run.
    fn context_len(&self) -> usize {
        match self {
            Engine::Cpu(m) => m.context_len(),
            Engine::Gpu { model, .. } => model.capacity(),
        }
    }

    /// Most candidates one step can hand over.
    fn max_k(&self) -> usize {
        match self {
            Engine::Cpu(m) => m.config.vocab_size,
            Engine::Gpu { model, .. } => model.max_k() as usize,
        }
    }

    /// Runs `tokens` at `start_pos..` and returns the top `k` candidates for the next token.
    fn forward(&mut self, tokens: &[u32], start_pos: usize, k: usize) -> Result<Candidates> {
        Ok(match self {
            Engine::Cpu(m) => Candidates::from_logits(m.forward_batch(tokens, start_pos)?, k)?,
            Engine::Gpu { model, runtime } => {
                runtime.block_on(model.forward(tokens, start_pos, k as u32))?
            }
        })
    }
}

/// The result of one generation.
#[derive(Debug, serde::Serialize)]
pub struct Generation {
    pub prompt_ids: Vec<u32>,
    /// Generated ids, the end-of-generation token included when one ended the reply.
    pub ids: Vec<u32>,
    /// The text of the generated ids, without the end-of-generation token's.
    pub text: String,
    pub prefill_tok_s: f64,
    pub decode_tok_s: f64,
}

pub fn run(args: Args) -> Result<()> {
    let mut stdout = std::io::stdout();
    let generation = generate(&args, |piece| {
        // A closed pipe (`| head`) ends the output, not the program with a panic.
        let _ = stdout.write_all(piece.as_bytes());
        let _ = stdout.flush();
    })?;
    if args.json {
        println!();
        println!("{}", serde_json::to_string(&generation)?);
    } else {
        println!();
        eprintln!(
            "{} prompt tokens at {:.1} tok/s, {} generated at {:.1} tok/s",
            generation.prompt_ids.len(),
            generation.prefill_tok_s,
            generation.ids.len(),
            generation.decode_tok_s
        );
    }
    Ok(())
}

/// Generates a reply, handing each new piece of text to `on_text` as soon as it is whole
/// UTF-8.
pub fn generate(args: &Args, mut on_text: impl FnMut(&str)) -> Result<Generation> {
    let path = &args.model;
    let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let len = file.metadata()?.len();
    let header = GgufHeader::read_from(BufReader::new(file), Some(len))
        .with_context(|| format!("reading the GGUF header of {}", path.display()))?;
    let tokenizer = Tokenizer::from_gguf(&header).context("building the tokenizer")?;
    let prompt_ids = prompt_ids(args, &tokenizer)?;
    if prompt_ids.is_empty() {
        bail!("the prompt has no tokens");
    }

    let settings = SamplerSettings {
        temperature: args.temperature,
        top_k: args.top_k,
        top_p: args.top_p,
        min_p: 0.0,
        repetition_penalty: 1.0,
        seed: args.seed,
        ..SamplerSettings::default()
    };
    let mut sampler = Sampler::new(settings)?;
    let window = prompt_ids.len() + args.max_tokens;
    let mut model = Engine::load(args.backend, path, window)?;
    if window > model.context_len() {
        bail!(
            "{} prompt tokens + {} new ones exceed the model's context of {}",
            prompt_ids.len(),
            args.max_tokens,
            model.context_len()
        );
    }
    let vocab = model.vocab_size();
    // The sampler needs every logit's share of the normaliser; hand it all candidates when
    // top-k is off (the GPU hands at most its top-K kernel's maximum, with the exact
    // normaliser). Greedy needs only the best.
    let k = if args.temperature <= 0.0 {
        1
    } else if args.top_k == 0 {
        vocab
    } else {
        args.top_k.max(40).min(vocab)
    }
    .min(model.max_k());

    let started = Instant::now();
    let mut candidates = model.forward(&prompt_ids, 0, k)?;
    let prefill_s = started.elapsed().as_secs_f64();

    let mut ids = Vec::new();
    let mut text = String::new();
    let mut stream = tokenizer.stream_decoder();
    let decode_start = Instant::now();
    let mut decoded = 0usize;
    while ids.len() < args.max_tokens {
        let id = sampler.sample(&candidates);
        ids.push(id);
        let end = tokenizer.is_end_of_generation(id);
        if end && !args.ignore_eos {
            break;
        }
        let piece = stream.push(id)?;
        on_text(&piece);
        text.push_str(&piece);
        if ids.len() == args.max_tokens {
            break;
        }
        candidates = model.forward(&[id], prompt_ids.len() + ids.len() - 1, k)?;
        decoded += 1;
    }
    let rest = stream.finish();
    on_text(&rest);
    text.push_str(&rest);
    let decode_s = decode_start.elapsed().as_secs_f64();
    Ok(Generation {
        prefill_tok_s: prompt_ids.len() as f64 / prefill_s.max(1e-9),
        decode_tok_s: if decoded == 0 {
            0.0
        } else {
            decoded as f64 / decode_s.max(1e-9)
        },
        prompt_ids,
        ids,
        text,
    })
}

/// The prompt's ids: a one-turn chat rendered by the model's template with the assistant's
/// header last, or with `--raw` the text itself. BOS comes from the template or the
/// vocabulary's `add_bos`, never both.
fn prompt_ids(args: &Args, tokenizer: &Tokenizer) -> Result<Vec<u32>> {
    if args.raw {
        let mut ids = tokenizer.encode_with_specials(&args.prompt);
        if let Some(bos) = tokenizer.bos_token() {
            if tokenizer.adds_bos() && ids.first() != Some(&bos) {
                ids.insert(0, bos);
            }
        }
        return Ok(ids);
    }
    let template = ChatTemplate::for_tokenizer(tokenizer)?;
    let mut messages = Vec::new();
    if let Some(system) = &args.system {
        messages.push(Message::new("system", system.clone()));
    }
    messages.push(Message::new("user", args.prompt.clone()));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let options = RenderOptions {
        add_generation_prompt: true,
        date: ChatDate::from_unix_seconds(now),
    };
    let rendered = template.render_prompt(&messages, &options, tokenizer)?;
    Ok(tokenizer.encode_prompt(&rendered))
}
