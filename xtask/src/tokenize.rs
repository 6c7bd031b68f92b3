//! `cargo xtask tokenize`: the ids of a text with a real tokenizer file, for checking the
//! engine's tokenizer against other implementations by hand.

use anyhow::{bail, Context, Result};
use hearth_worker::gguf::GgufHeader;
use hearth_worker::tokenizer::Tokenizer;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// A `.gguf` file (its `tokenizer.ggml.*` metadata), or a Llama 3 `tokenizer.model` /
    /// `.tiktoken` rank file.
    #[arg(long)]
    tokenizer: PathBuf,
    /// Text to encode. Printed as a JSON array of ids on the last line (no BOS).
    #[arg(long, conflicts_with = "decode", required_unless_present = "decode")]
    text: Option<String>,
    /// Recognise special-token text (as in a rendered chat template) instead of plain text.
    #[arg(long, requires = "text")]
    special: bool,
    /// Comma-separated ids to decode; prints the text.
    #[arg(long, value_delimiter = ',')]
    decode: Option<Vec<u32>>,
}

pub fn run(args: Args) -> Result<()> {
    let tokenizer = load(&args.tokenizer)?;
    if let Some(ids) = &args.decode {
        println!("{}", tokenizer.decode(ids)?);
        return Ok(());
    }
    let Some(text) = &args.text else {
        bail!("give --text or --decode");
    };
    let ids = if args.special {
        tokenizer.encode_with_specials(text)
    } else {
        tokenizer.encode(text)
    };
    println!("{}", serde_json::to_string(&ids)?);
    Ok(())
}

fn load(path: &std::path::Path) -> Result<Tokenizer> {
    let is_gguf = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("gguf"));
    if is_gguf {
        let file =
            std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
        let len = file.metadata()?.len();
        let header = GgufHeader::read_from(std::io::BufReader::new(file), Some(len))
            .with_context(|| format!("reading the GGUF header of {}", path.display()))?;
        Ok(Tokenizer::from_gguf(&header)?)
    } else {
        let data = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        Tokenizer::llama3_from_tiktoken(&data)
            .with_context(|| format!("{} as a Llama 3 tiktoken rank file", path.display()))
    }
}
