//! `cargo xtask bench --model M.gguf`: the GPU engine's prefill and decode speed on a model,
//! its weights' GPU memory against the GGUF's tensor bytes, and the GEMV's weight-read rate
//! against a plain buffer copy on the same adapter. Prints JSON (pretty, then as one line last).
//!
//! On a software adapter (lavapipe) the tok/s figures are CPU figures; the GEMV ÷ copy ratio
//! is the number that carries over.

use anyhow::{bail, Context, Result};
use hearth_worker::engine::{self, GpuModel, LoadOptions};
use hearth_worker::gguf::{GgmlType, GgufHeader};
use hearth_worker::gpu::kernels::attention_bench::measure_attention;
use hearth_worker::gpu::kernels::matmul::bench::{
    measure_copy, measure_dispatch, measure_gemv, measure_read,
};
use hearth_worker::gpu::kernels::matmul::MatmulLayout;
use hearth_worker::gpu::kernels::{AttentionShape, SplitRule};
use hearth_worker::gpu::GpuContext;
use hearth_worker::model::tensors::TOKEN_EMBD;
use serde_json::json;
use std::io::BufReader;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

#[derive(clap::Args)]
pub struct Args {
    /// The GGUF model.
    #[arg(long)]
    pub model: PathBuf,
    /// Prompt length for the prefill measurement.
    #[arg(long, default_value_t = 512)]
    pub prompt_tokens: usize,
    /// Greedy decode steps after the prompt.
    #[arg(long, default_value_t = 32)]
    pub decode_tokens: usize,
    /// Also write the JSON to this file.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// GEMVs per timed submit in the GEMV-vs-copy measurement.
    #[arg(long, default_value_t = 10)]
    pub gemv_repeats: usize,
    /// Skip the GEMV-vs-copy measurement (it depends on the adapter, not on the model).
    #[arg(long)]
    pub no_gemv: bool,
    /// Skip the decode attention's times by context length and split count (measured on GPU
    /// adapters only: software adapters never split).
    #[arg(long)]
    pub no_attention: bool,
    /// MiB of distinct weights each GEMV measurement cycles through, and the size of the
    /// device-memory copy: more than a GPU's last-level cache, so that both read memory.
    #[arg(long, default_value_t = 256)]
    pub working_set_mib: u64,
}

/// Decode steps timed in their parts after the measured decode.
const TIMED_STEPS: usize = 8;

/// The GEMV shape measured: Llama 3.2 1B's FFN gate/up (8192 rows of 2048).
const GEMV_ROWS: u32 = 8192;
const GEMV_COLS: u32 = 2048;
const GEMV_TYPES: [GgmlType; 3] = [GgmlType::Q6K, GgmlType::Q8_0, GgmlType::F32];

/// Context lengths at which the decode attention is timed, and the fixed split counts it is
/// timed with beside the engine's rule.
const ATTENTION_POSITIONS: [u32; 8] = [16, 64, 128, 256, 512, 1024, 2048, 4096];
const ATTENTION_SPLITS: [u32; 6] = [1, 2, 4, 8, 16, 32];

pub fn run(args: Args) -> Result<()> {
    if args.prompt_tokens == 0 {
        bail!("--prompt-tokens must be at least 1");
    }
    let path = &args.model;
    let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let len = file.metadata()?.len();
    let header = GgufHeader::read_from(BufReader::new(file), Some(len))
        .with_context(|| format!("reading the GGUF header of {}", path.display()))?;
    let gguf_tensor_bytes = header
        .tensors
        .iter()
        .map(|t| t.byte_size())
        .sum::<Result<u64, _>>()?;

    let runtime = tokio::runtime::Builder::new_current_thread().build()?;
    let ctx = Arc::new(
        runtime
            .block_on(GpuContext::new())
            .context("opening the GPU")?,
    );
    let window = args.prompt_tokens + args.decode_tokens;
    let options = LoadOptions {
        // Room for the timed steps, and the staged and the GPU-timed one after the decode.
        max_context: Some(window + TIMED_STEPS + 2),
        ..LoadOptions::default()
    };
    eprintln!("loading {}", path.display());
    let started = Instant::now();
    let mut model = engine::load_file(ctx.clone(), path, options)
        .with_context(|| format!("loading {} onto the GPU", path.display()))?;
    let load_s = started.elapsed().as_secs_f64();
    if window > model.capacity() {
        bail!(
            "{} prompt + {} decode tokens exceed the context of {} positions",
            args.prompt_tokens,
            args.decode_tokens,
            model.capacity()
        );
    }

    let vocab = model.config().vocab_size;
    // Any valid ids do: speed does not depend on which tokens they are.
    let prompt: Vec<u32> = (0..args.prompt_tokens)
        .map(|i| ((i * 7919 + 13) % vocab) as u32)
        .collect();
    let forward = |model: &mut GpuModel, tokens: &[u32], pos: usize| {
        runtime
            .block_on(model.forward(tokens, pos, 1))
            .map(|c| c.ids[0])
    };
    // Warm-up, untimed: a two-token batch (GEMM path) and one decode step (GEMV path) touch
    // every weight and pipeline once.
    eprintln!("warming up");
    forward(&mut model, &prompt[..prompt.len().min(2)], 0)?;
    forward(&mut model, &prompt[..1], 0)?;
    model.truncate(0);

    eprintln!("prefill of {} tokens", prompt.len());
    let started = Instant::now();
    let mut next = forward(&mut model, &prompt, 0)?;
    let prefill_s = started.elapsed().as_secs_f64();
    eprintln!("{} decode steps", args.decode_tokens);
    let started = Instant::now();
    for step in 0..args.decode_tokens {
        next = forward(&mut model, &[next], prompt.len() + step)?;
    }
    let decode_s = started.elapsed().as_secs_f64();

    // Where a decode step's time goes: a few more steps, each timed in its parts, beside the
    // round trip of an empty submit (the fixed cost of waiting for the GPU once).
    let timed = TIMED_STEPS.min(model.capacity().saturating_sub(window));
    let mut steps = Vec::with_capacity(timed);
    for _ in 0..timed {
        let (token, timing) = model.timed_decode_step(next)?;
        next = token;
        steps.push(timing);
    }
    let mean = |f: fn(&engine::StepTiming) -> f64| {
        steps.iter().map(f).sum::<f64>() / steps.len().max(1) as f64
    };
    let empty_started = Instant::now();
    for _ in 0..TIMED_STEPS {
        ctx.queue.submit([]);
        runtime.block_on(hearth_worker::gpu::wait_idle(&ctx));
    }
    let empty_round_trip_s = empty_started.elapsed().as_secs_f64() / TIMED_STEPS as f64;
    // The same step split by kind of kernel: each stage submitted alone; one such step, after
    // the timed ones, if the cache has room.
    let stages = if model.capacity() > window + timed {
        model.staged_decode_step(next)?.1.stages
    } else {
        Vec::new()
    };
    // And timed on the GPU, each stage a pass of its own in one submit, where it can be.
    let gpu_stages = match model.capacity() > window + timed + 1 {
        true => model
            .stamped_decode_step(next)?
            .map_or_else(Vec::new, |(_, times)| times.stages),
        false => Vec::new(),
    };
    let stage_json = |s: &engine::StageTime| {
        json!({
            "name": s.name,
            "seconds": s.seconds,
            "dispatches": s.dispatches,
            "submits": s.submits,
        })
    };
    let decode_step = json!({
        "steps": steps.len(),
        "dispatches": steps.first().map_or(0, |s| s.dispatches),
        "record_s": mean(|s| s.record_s),
        "wait_s": mean(|s| s.wait_s),
        "empty_round_trip_s": empty_round_trip_s,
        "stages": stages.iter().map(stage_json).collect::<Vec<_>>(),
        "gpu_stages": gpu_stages.iter().map(stage_json).collect::<Vec<_>>(),
    });

    let working_set = args.working_set_mib << 20;
    eprintln!("copying {} MiB in device memory", args.working_set_mib);
    let copy_bytes_per_s = measure_copy(&ctx, working_set, args.gemv_repeats)?;
    eprintln!("reading {} MiB in a kernel", args.working_set_mib);
    let read_bytes_per_s = measure_read(&ctx, working_set, args.gemv_repeats)?;
    let (dispatch_s, dispatch_in_pass_s) = measure_dispatch(&ctx, 100)?;
    let decode_tok_s = if args.decode_tokens == 0 {
        0.0
    } else {
        args.decode_tokens as f64 / decode_s
    };
    let mut gemv = Vec::new();
    let types: &[GgmlType] = if args.no_gemv { &[] } else { &GEMV_TYPES };
    for &ty in types {
        for layout in MatmulLayout::ALL {
            eprintln!("GEMV {ty} {layout:?} {GEMV_ROWS}x{GEMV_COLS} against a buffer copy");
            let m = measure_gemv(
                &ctx,
                ty,
                layout,
                GEMV_ROWS,
                GEMV_COLS,
                args.gemv_repeats,
                working_set,
            )?;
            gemv.push(json!({
                "type": ty.name(),
                "layout": format!("{layout:?}"),
                "used_by_engine": layout == MatmulLayout::for_adapter(&ctx),
                "rows": m.rows,
                "cols": m.cols,
                "weight_bytes": m.weight_bytes,
                "gemv_bytes_per_s": m.gemv_bytes_per_s(),
                "copy_bytes_per_s": m.copy_bytes_per_s(),
                "gemv_over_copy": m.ratio(),
            }));
        }
    }

    let layout = MatmulLayout::for_adapter(&ctx);
    let attention = if args.no_attention || layout != MatmulLayout::Cooperative {
        Vec::new()
    } else {
        eprintln!("decode attention by context length and splits");
        let c = model.config();
        let shape = AttentionShape {
            n_heads: c.n_heads as u32,
            n_kv_heads: c.n_kv_heads as u32,
            head_dim: c.head_dim as u32,
            capacity: 0,
        };
        let engine_rule = SplitRule::for_layout(layout);
        let rules: Vec<SplitRule> = std::iter::once(engine_rule)
            .chain(ATTENTION_SPLITS.map(SplitRule::fixed))
            .collect();
        let timings = measure_attention(
            &ctx,
            layout,
            shape,
            c.n_layers as u32,
            &ATTENTION_POSITIONS,
            &rules,
            args.gemv_repeats,
        )?;
        timings
            .iter()
            .map(|t| {
                json!({
                    "positions": t.positions,
                    "engine_rule": t.rule == engine_rule,
                    "splits": t.splits,
                    "seconds_per_layer": t.seconds,
                })
            })
            .collect()
    };

    let adapter = ctx.summary();
    let weight_bytes_gpu = model.weight_bytes();
    // What a decode step must read: every tensor once, except an untied token embedding, of
    // which it reads one row (a tied one is the output head, read whole).
    let untied_embedding = match header.tensor(TOKEN_EMBD) {
        Some(t) if !model.config().tied_embeddings => t.byte_size()?,
        _ => 0,
    };
    let decode_bytes = gguf_tensor_bytes - untied_embedding;
    let report = json!({
        "adapter": {
            "name": adapter.name,
            "backend": adapter.backend,
            "driver": ctx.info.driver_info,
        },
        "model": path.display().to_string(),
        "prompt_tokens": args.prompt_tokens,
        "decode_tokens": args.decode_tokens,
        "load_s": load_s,
        "prefill_s": prefill_s,
        "prefill_tok_s": args.prompt_tokens as f64 / prefill_s,
        "decode_s": decode_s,
        "decode_tok_s": decode_tok_s,
        // Every weight read once per token (the output head, not the embedding, where they
        // differ), against what a kernel that only reads reaches: decode's fraction of the
        // roofline. A large copy's reads plus writes beside it.
        "decode_weight_bytes_per_token": decode_bytes,
        "memory_read_bytes_per_s": read_bytes_per_s,
        "memory_copy_bytes_per_s": copy_bytes_per_s,
        // A one-workgroup dispatch, 100 back to back, each in a pass of its own and all in one
        // pass: the fixed cost of a kernel, which a decode step (one pass) pays
        // `decode_step.dispatches` times.
        "dispatch_s": dispatch_s,
        "dispatch_in_pass_s": dispatch_in_pass_s,
        "decode_roofline_fraction": decode_tok_s * decode_bytes as f64 / read_bytes_per_s,
        "weight_bytes_gpu": weight_bytes_gpu,
        "gguf_tensor_bytes": gguf_tensor_bytes,
        "weight_bytes_ratio": weight_bytes_gpu as f64 / gguf_tensor_bytes as f64,
        "decode_step": decode_step,
        "gemv": gemv,
        // A one-token step's attention per layer, its layers one after another in one pass:
        // the engine's split rule, and each fixed number of splits (GPU adapters only).
        "attention": attention,
    });
    let pretty = serde_json::to_string_pretty(&report)?;
    println!("{pretty}");
    println!("{}", serde_json::to_string(&report)?);
    if let Some(out) = &args.out {
        std::fs::write(out, pretty + "\n").with_context(|| format!("writing {}", out.display()))?;
    }
    Ok(())
}
