//! `cargo xtask generate --model M.gguf --prompt TEXT`: runs the engine natively and streams
//! the reply to stdout. `--json` adds a last line with the ids, the text and the speeds.

use anyhow::{bail, Context, Result};
use hearth_worker::chat::{ChatDate, Message};
use hearth_worker::cpu::CpuModel;
use hearth_worker::engine::{self, LoadOptions};
use hearth_worker::gguf::GgufHeader;
use hearth_worker::gpu::GpuContext;
use hearth_worker::sampler::SamplerSettings;
use hearth_worker::session::{chat_prompt, raw_prompt, ChatSession, Flow, LanguageModel, Reply};
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
    /// Print `{"prompt_ids", "ids", "text", "prefill_tok_s", "decode_tok_s", ...}` (with each
    /// step's top-1/top-2 margin, time to first token and why it stopped) as the last line.
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
pub fn generate(args: &Args, on_text: impl FnMut(&str)) -> Result<Reply> {
    let path = &args.model;
    let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let len = file.metadata()?.len();
    let header = GgufHeader::read_from(BufReader::new(file), Some(len))
        .with_context(|| format!("reading the GGUF header of {}", path.display()))?;
    let tokenizer = Tokenizer::from_gguf(&header).context("building the tokenizer")?;
    // The window holds the prompt and the reply.
    let prompt_ids = prompt_ids(args, &tokenizer)?;
    let window = prompt_ids.len() + args.max_tokens;
    match args.backend {
        Backend::Cpu => {
            let model = CpuModel::load_file(path, Some(window))
                .with_context(|| format!("loading {}", path.display()))?;
            run_session(
                args,
                ChatSession::new(model, tokenizer),
                prompt_ids,
                on_text,
            )
        }
        Backend::Gpu => {
            let ctx = pollster::block_on(GpuContext::new()).context("opening the GPU")?;
            let options = LoadOptions {
                max_context: Some(window),
                ..LoadOptions::default()
            };
            let model = engine::load_file(std::sync::Arc::new(ctx), path, options)
                .with_context(|| format!("loading {} onto the GPU", path.display()))?;
            run_session(
                args,
                ChatSession::new(model, tokenizer),
                prompt_ids,
                on_text,
            )
        }
    }
}

fn run_session<M: LanguageModel>(
    args: &Args,
    mut session: ChatSession<M>,
    prompt_ids: Vec<u32>,
    mut on_text: impl FnMut(&str),
) -> Result<Reply> {
    let needed = prompt_ids.len() + args.max_tokens;
    if needed > session.model().capacity() {
        bail!(
            "{} prompt tokens + {} new ones exceed the model's context of {}",
            prompt_ids.len(),
            args.max_tokens,
            session.model().capacity()
        );
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
    let clock = Instant::now();
    let now_ms = || clock.elapsed().as_secs_f64() * 1000.0;
    Ok(pollster::block_on(session.generate(
        &prompt_ids,
        settings,
        args.max_tokens,
        args.ignore_eos,
        &now_ms,
        |_, text| {
            on_text(text);
            Flow::Continue
        },
    ))?)
}

/// The prompt's ids: a one-turn chat rendered by the model's template with the assistant's
/// header last, or with `--raw` the text itself.
fn prompt_ids(args: &Args, tokenizer: &Tokenizer) -> Result<Vec<u32>> {
    let ids = if args.raw {
        raw_prompt(tokenizer, &args.prompt)
    } else {
        let mut messages = Vec::new();
        if let Some(system) = &args.system {
            messages.push(Message::new("system", system.clone()));
        }
        messages.push(Message::new("user", args.prompt.clone()));
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        chat_prompt(
            tokenizer,
            &messages,
            ChatDate::from_unix_seconds(now),
            usize::MAX / 2,
            0,
        )?
        .ids
    };
    if ids.is_empty() {
        bail!("the prompt has no tokens");
    }
    Ok(ids)
}
