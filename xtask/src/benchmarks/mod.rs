//! `cargo xtask benchmarks`: measures, then writes `BENCHMARKS.md` at the root with a chart
//! (`docs/benchmarks.svg`) and the raw data (`docs/benchmarks.json`). Runs `xtask bench` on
//! the test model and on a synthetic Llama-3.2-1B-shaped model (stopped and reported as not
//! measured when it runs too long), then the browser benchmark (`tests/bench/browser.mjs`:
//! Hearth and wllama in the same Chromium). Not part of `cargo xtask test`: it asserts
//! nothing, it reports.

mod chart;
mod markdown;
mod report;

use crate::{build, fixtures, install, paths, process, synth};
use anyhow::{Context, Result};
use report::{Benchmarks, BrowserReport, CpuKernel, GpuRecord, NativeOutcome, NativeRun};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

#[derive(clap::Args)]
pub struct Args {
    /// New tokens of each greedy reply in the browser.
    #[arg(long, default_value_t = 32)]
    pub tokens: u32,
    /// Minutes the synthetic Llama-3.2-1B-shape run may take before it is stopped and
    /// reported as not measured.
    #[arg(long, default_value_t = 5)]
    pub synth_minutes: u64,
    /// Leave out the synthetic Llama-3.2-1B-shape run.
    #[arg(long)]
    pub no_synth: bool,
    /// Measure nothing: write BENCHMARKS.md and the chart again from docs/benchmarks.json.
    #[arg(long)]
    pub render_only: bool,
}

const MARKDOWN: &str = "BENCHMARKS.md";
const CHART: &str = "docs/benchmarks.svg";
const JSON: &str = "docs/benchmarks.json";
/// Runs on real GPUs (`scripts/gpu-bench.sh record`), one JSON file each.
const GPU_RECORDS: &str = "docs/gpu";

/// The test model: prompt and decode lengths for `xtask bench`.
const SMOLLM2_PROMPT_TOKENS: u32 = 128;
const SMOLLM2_DECODE_TOKENS: u32 = 32;
/// SwiftShader prefills about 10 tokens a second: a shorter prompt.
const SWIFTSHADER_PROMPT_TOKENS: u32 = 48;
/// The synthetic 1B model is about 8 times the work per token: fewer tokens.
const SYNTH_PROMPT_TOKENS: u32 = 32;
const SYNTH_DECODE_TOKENS: u32 = 8;

pub fn run(args: Args) -> Result<()> {
    let root = paths::root();
    let benchmarks = if args.render_only {
        let text = std::fs::read_to_string(root.join(JSON))
            .with_context(|| format!("reading {JSON} (run `cargo xtask benchmarks` once)"))?;
        serde_json::from_str(&text).with_context(|| format!("reading {JSON}"))?
    } else {
        measure(&args)?
    };
    write(&root, &benchmarks)
}

fn measure(args: &Args) -> Result<Benchmarks> {
    install::test_tools()?;
    let fixtures = fixtures::ensure_all()?;
    build::run(&build::Args::default())?;
    let work = paths::target_dir().join("benchmarks");
    std::fs::create_dir_all(&work)?;
    let commit = commit()?;

    let mut native = vec![native_run(
        "SmolLM2-135M-Instruct Q6_K",
        &fixtures.join(fixtures::DEFAULT_MODEL),
        &bench_args(SMOLLM2_PROMPT_TOKENS, SMOLLM2_DECODE_TOKENS, true),
        None,
        None,
        &work.join("native-smollm2.json"),
    )?];
    // The same model on the SwiftShader Chromium runs WebGPU on here, loaded natively: the
    // browser's GPU figures, split by stage.
    if let Some(icd) = swiftshader_icd() {
        native.push(native_run(
            "SmolLM2-135M-Instruct Q6_K on SwiftShader",
            &fixtures.join(fixtures::DEFAULT_MODEL),
            &bench_args(SWIFTSHADER_PROMPT_TOKENS, SMOLLM2_DECODE_TOKENS, false),
            Some(Duration::from_secs(args.synth_minutes * 60)),
            Some(&icd),
            &work.join("native-smollm2-swiftshader.json"),
        )?);
    }
    if !args.no_synth {
        let model = synthetic_1b()?;
        native.push(native_run(
            "synthetic Llama-3.2-1B shape, Q6_K (random weights)",
            &model,
            &bench_args(SYNTH_PROMPT_TOKENS, SYNTH_DECODE_TOKENS, false),
            Some(Duration::from_secs(args.synth_minutes * 60)),
            None,
            &work.join("native-llama-3.2-1b.json"),
        )?);
    }
    let cpu_kernels = cpu_kernel_run()?;
    let browser = browser_run(args.tokens, &work.join("browser.json"))?;

    let mut command = "cargo xtask benchmarks".to_string();
    if args.tokens != 32 {
        command += &format!(" --tokens {}", args.tokens);
    }
    if args.no_synth {
        command += " --no-synth";
    }
    Ok(Benchmarks {
        command,
        commit,
        native,
        cpu_kernels,
        browser,
    })
}

/// The CPU engine's kernels in wasm, run in Node by wasm-bindgen's test runner; each
/// measurement is one JSON line of its output.
fn cpu_kernel_run() -> Result<Vec<CpuKernel>> {
    println!("\n==> CPU engine kernels (wasm SIMD in Node)");
    let out = process::output(
        Command::new("cargo")
            .args(["test", "--release", "--target", install::WASM_TARGET])
            .args([
                "-p",
                "hearth-worker",
                "--test",
                "simd_bench",
                "--",
                "--nocapture",
            ])
            .env(
                "CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER",
                "wasm-bindgen-test-runner",
            )
            .current_dir(paths::root()),
    )?;
    let kernels: Vec<CpuKernel> = out
        .lines()
        .filter(|l| l.trim_start().starts_with('{'))
        .map(|l| serde_json::from_str(l.trim()).with_context(|| format!("reading {l:?}")))
        .collect::<Result<_>>()?;
    anyhow::ensure!(!kernels.is_empty(), "the kernel probe printed no results");
    Ok(kernels)
}

fn bench_args(prompt: u32, decode: u32, gemv: bool) -> Vec<String> {
    let mut args = vec![
        "--prompt-tokens".to_string(),
        prompt.to_string(),
        "--decode-tokens".to_string(),
        decode.to_string(),
    ];
    if !gemv {
        args.push("--no-gemv".to_string());
    }
    args
}

/// The Vulkan driver file of the SwiftShader that Chromium ships beside its binary
/// (`HEARTH_SWIFTSHADER_ICD` overrides), if there is one.
fn swiftshader_icd() -> Option<PathBuf> {
    let icd = std::env::var_os("HEARTH_SWIFTSHADER_ICD")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/lib/chromium/vk_swiftshader_icd.json"));
    icd.is_file().then_some(icd)
}

/// `xtask bench` in a process of its own (a fresh GPU context each), within `limit` if given;
/// on the Vulkan driver `icd` describes, if given, instead of the system's.
fn native_run(
    name: &str,
    model: &Path,
    args: &[String],
    limit: Option<Duration>,
    icd: Option<&Path>,
    out: &Path,
) -> Result<NativeRun> {
    println!("\n==> xtask bench: {name}");
    let _ = std::fs::remove_file(out);
    // Relative to the root, so the report names no machine's folders.
    let root = paths::root();
    let model = model.strip_prefix(&root).unwrap_or(model);
    let mut cmd = Command::new(std::env::current_exe()?);
    cmd.arg("bench")
        .arg("--model")
        .arg(model)
        .args(args)
        .current_dir(&root)
        .arg("--out")
        .arg(out)
        .stdout(std::process::Stdio::null());
    process::gpu_env(&mut cmd)?;
    if let Some(icd) = icd {
        cmd.env("VK_ICD_FILENAMES", icd);
    }
    let outcome = match limit {
        Some(limit) if !process::run_within(&mut cmd, limit)? => NativeOutcome::Skipped(format!(
            "stopped after {} minutes on this machine",
            limit.as_secs() / 60
        )),
        Some(_) => NativeOutcome::Measured(Box::new(read_json(out)?)),
        None => {
            process::run(&mut cmd)?;
            NativeOutcome::Measured(Box::new(read_json(out)?))
        }
    };
    Ok(NativeRun {
        model: name.to_string(),
        outcome,
    })
}

/// The synthetic Llama-3.2-1B-shaped GGUF, written once into the cache.
fn synthetic_1b() -> Result<PathBuf> {
    let path = paths::cache().join("synth").join("llama-3.2-1b.gguf");
    if !path.exists() {
        std::fs::create_dir_all(path.parent().expect("a file in a folder"))?;
        println!("writing {}", path.display());
        synth::run(synth::Args {
            shape: synth::Shape::Llama32_1B,
            out: path.clone(),
            seed: 1,
        })?;
    }
    Ok(path)
}

fn browser_run(tokens: u32, out: &Path) -> Result<BrowserReport> {
    println!("\n==> browser benchmark: Hearth and wllama in Chromium");
    let _ = std::fs::remove_file(out);
    let mut cmd = Command::new("node");
    cmd.arg("tests/bench/browser.mjs")
        .arg("--tokens")
        .arg(tokens.to_string())
        .arg("--out")
        .arg(out)
        .env("HEARTH_XTASK", std::env::current_exe()?)
        .current_dir(paths::root())
        .stdout(std::process::Stdio::null());
    process::run(process::gpu_env(&mut cmd)?)?;
    read_json(out)
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("reading {}", path.display()))
}

/// The commit measured, with `-dirty` when files other than the generated ones differ.
fn commit() -> Result<String> {
    let root = paths::root();
    let head = process::output(
        Command::new("git")
            .args(["rev-parse", "--short", "HEAD"])
            .current_dir(&root),
    )?;
    let changes = process::output(
        Command::new("git")
            .args(["status", "--porcelain", "--", "."])
            .args([MARKDOWN, CHART, JSON].map(|p| format!(":!{p}")))
            .current_dir(&root),
    )?;
    let dirty = if changes.trim().is_empty() {
        ""
    } else {
        "-dirty"
    };
    Ok(format!("{}{dirty}", head.trim()))
}

fn write(root: &Path, b: &Benchmarks) -> Result<()> {
    std::fs::create_dir_all(root.join("docs"))?;
    let json = serde_json::to_string_pretty(b)? + "\n";
    std::fs::write(root.join(JSON), json).with_context(|| format!("writing {JSON}"))?;
    std::fs::write(root.join(CHART), chart::decode_chart(&b.browser))
        .with_context(|| format!("writing {CHART}"))?;
    let gpu = gpu_records(&root.join(GPU_RECORDS))?;
    std::fs::write(root.join(MARKDOWN), markdown::render(b, &gpu, CHART, JSON))
        .with_context(|| format!("writing {MARKDOWN}"))?;
    println!("\nwrote {MARKDOWN}, {CHART} and {JSON}");
    Ok(())
}

/// The real-GPU runs recorded in `dir`, by file name (none when it does not exist).
fn gpu_records(dir: &Path) -> Result<Vec<GpuRecord>> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(Vec::new());
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|p| {
            let text = std::fs::read_to_string(p)?;
            serde_json::from_str(&text).with_context(|| format!("reading {}", p.display()))
        })
        .collect()
}
