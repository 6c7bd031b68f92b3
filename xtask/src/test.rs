//! `cargo xtask test`: installs what is missing, then lint, native tests (GPU tests on
//! lavapipe), the wasm build and the browser tests. Prints how long each stage took and exits
//! non-zero if any failed.

use crate::{build, fixtures, install, paths, process};
use anyhow::{bail, Result};
use std::process::Command;
use std::time::{Duration, Instant};

#[derive(clap::Args)]
pub struct Args {
    /// Skip the browser tests (and the wasm build they need).
    #[arg(long)]
    pub no_browser: bool,
}

struct Stage {
    name: &'static str,
    took: Duration,
    result: Result<()>,
}

/// The worker's tests that only a wasm32 build has (its SIMD kernels).
const WASM_KERNEL_TESTS: &str = "cpu_kernels";

pub fn run(args: Args) -> Result<()> {
    let mut stages: Vec<Stage> = Vec::new();
    let mut stage = |name: &'static str, f: &mut dyn FnMut() -> Result<()>| -> bool {
        println!("\n==> {name}");
        let start = Instant::now();
        let result = f();
        if let Err(e) = &result {
            eprintln!("{name} failed: {e:#}");
        }
        let ok = result.is_ok();
        stages.push(Stage {
            name,
            took: start.elapsed(),
            result,
        });
        ok
    };

    let root = paths::root();
    let installed = stage("install tools", &mut || install::test_tools())
        && stage("fetch fixtures", &mut || fixtures::ensure_all().map(|_| ()));
    if installed {
        stage("lint", &mut || {
            process::run(
                Command::new("cargo")
                    .args(["fmt", "--all", "--check"])
                    .current_dir(&root),
            )?;
            process::run(
                Command::new("cargo")
                    .args([
                        "clippy",
                        "--workspace",
                        "--all-targets",
                        "--",
                        "-D",
                        "warnings",
                    ])
                    .current_dir(&root),
            )?;
            // The browser entry points only exist on wasm32.
            process::run(
                Command::new("cargo")
                    .args(["clippy", "--target", install::WASM_TARGET])
                    .args(["-p", "hearth-worker", "-p", "hearth-sw", "-p", "hearth-app"])
                    .args(["--", "-D", "warnings"])
                    .current_dir(&root),
            )?;
            process::run(
                Command::new("cargo")
                    .args(["clippy", "--target", install::WASM_TARGET])
                    .args(["-p", "hearth-worker", "--test", WASM_KERNEL_TESTS])
                    .args(["--", "-D", "warnings"])
                    .current_dir(&root),
            )
        });
        stage("native tests", &mut || {
            process::run(process::gpu_env(
                Command::new("cargo")
                    .args(["test", "--workspace"])
                    .current_dir(&root),
            )?)
        });
        stage("wasm kernel tests", &mut || {
            // The CPU engine's SIMD kernels, run in Node by wasm-bindgen's test runner.
            process::run(
                Command::new("cargo")
                    .args(["test", "--target", install::WASM_TARGET])
                    .args(["-p", "hearth-worker", "--test", WASM_KERNEL_TESTS])
                    .env(
                        "CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER",
                        "wasm-bindgen-test-runner",
                    )
                    .current_dir(&root),
            )
        });
        if !args.no_browser {
            let built = stage("wasm build", &mut || {
                build::run(&build::Args::default()).map(|_| ())
            });
            if built {
                stage("browser tests", &mut || browser_tests());
            }
        }
    }

    println!("\nStage timings:");
    for s in &stages {
        let mark = if s.result.is_ok() { "ok  " } else { "FAIL" };
        println!("  {mark} {:<15} {:>7.1} s", s.name, s.took.as_secs_f64());
    }
    let total: Duration = stages.iter().map(|s| s.took).sum();
    println!("  total {:>24.1} s", total.as_secs_f64());
    let failed: Vec<_> = stages
        .iter()
        .filter(|s| s.result.is_err())
        .map(|s| s.name)
        .collect();
    if !failed.is_empty() {
        bail!("failed: {}", failed.join(", "));
    }
    Ok(())
}

fn browser_tests() -> Result<()> {
    let root = paths::root();
    let xtask = std::env::current_exe()?;
    process::run(process::gpu_env(
        Command::new("node")
            .args(["--test", "--test-concurrency=1", "tests/e2e/"])
            .env("HEARTH_XTASK", xtask)
            .current_dir(&root),
    )?)
}
