//! `cargo xtask build`: the three wasm crates in release, wasm-bindgen (`--target web`),
//! wasm-opt (npm binaryen), and `dist/` assembled with its asset list, versioned `sw.js` and
//! `_headers` (the pages' Content-Security-Policy for static hosts).

use crate::{assets, install, paths, process};
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

#[derive(clap::Args, Default)]
pub struct Args {
    /// Skip wasm-opt (faster, larger modules).
    #[arg(long)]
    pub no_opt: bool,
}

/// A browser module: the crate, the folder its files go to in `dist/`, and the wasm-opt level
/// (the engine is optimised for speed, the rest for size).
struct Module {
    package: &'static str,
    dir: &'static str,
    opt_level: &'static str,
}

const MODULES: &[Module] = &[
    Module {
        package: "hearth-app",
        dir: "app",
        opt_level: "-Oz",
    },
    Module {
        package: "hearth-worker",
        dir: "worker",
        opt_level: "-O3",
    },
    Module {
        package: "hearth-sw",
        dir: "sw",
        opt_level: "-Oz",
    },
];

/// Placeholder in `public/sw.js` that the build replaces with the asset-list version.
const VERSION_PLACEHOLDER: &str = "__HEARTH_VERSION__";

pub fn dist() -> PathBuf {
    paths::root().join("dist")
}

pub fn run(args: &Args) -> Result<PathBuf> {
    install::build_tools()?;
    let root = paths::root();
    let mut cargo = Command::new("cargo");
    cargo
        .args(["build", "--release", "--target", install::WASM_TARGET])
        .current_dir(&root);
    for m in MODULES {
        cargo.args(["-p", m.package]);
    }
    process::run(&mut cargo)?;

    let dist = dist();
    if dist.exists() {
        std::fs::remove_dir_all(&dist).context("clearing dist/")?;
    }
    copy_dir(&root.join("public"), &dist)?;

    let wasm_dir = paths::target_dir()
        .join(install::WASM_TARGET)
        .join("release");
    for m in MODULES {
        let stem = m.package.replace('-', "_");
        let out = dist.join(m.dir);
        process::run(
            Command::new("wasm-bindgen")
                .args(["--target", "web", "--no-typescript", "--out-dir"])
                .arg(&out)
                .arg(wasm_dir.join(format!("{stem}.wasm"))),
        )?;
        if !args.no_opt {
            let wasm = out.join(format!("{stem}_bg.wasm"));
            process::run(
                Command::new(root.join("node_modules/.bin/wasm-opt"))
                    .arg(m.opt_level)
                    // The features rustc's wasm32 target enables by default.
                    .args([
                        "--enable-bulk-memory",
                        "--enable-nontrapping-float-to-int",
                        "--enable-sign-ext",
                        "--enable-mutable-globals",
                        "--enable-reference-types",
                        "--enable-multivalue",
                        // The worker's CPU engine uses 128-bit SIMD.
                        "--enable-simd",
                    ])
                    .arg(&wasm)
                    .arg("-o")
                    .arg(&wasm),
            )?;
        }
    }

    crate::csp::write_headers_file(&dist)?;
    let list = assets::asset_list(&dist)?;
    std::fs::write(
        dist.join(hearth_protocol::assets::ASSET_LIST_FILE),
        serde_json::to_vec_pretty(&list)?,
    )?;
    let sw = std::fs::read_to_string(dist.join("sw.js"))?;
    anyhow::ensure!(
        sw.contains(VERSION_PLACEHOLDER),
        "public/sw.js lacks {VERSION_PLACEHOLDER}"
    );
    std::fs::write(
        dist.join("sw.js"),
        sw.replace(VERSION_PLACEHOLDER, &list.version),
    )?;

    let total: u64 = list.assets.iter().map(|a| a.bytes).sum();
    println!(
        "built dist/: {} files, {:.1} MiB, version {}",
        list.assets.len(),
        total as f64 / (1 << 20) as f64,
        list.version
    );
    for m in MODULES {
        let stem = m.package.replace('-', "_");
        if let Some(a) = list.find(&format!("{}/{stem}_bg.wasm", m.dir)) {
            println!("  {:<8} {:>8.0} KiB", m.dir, a.bytes as f64 / 1024.0);
        }
    }
    Ok(dist)
}

fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    for entry in walkdir::WalkDir::new(from) {
        let entry = entry?;
        let target = to.join(entry.path().strip_prefix(from)?);
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&target)?;
        } else {
            std::fs::copy(entry.path(), &target)
                .with_context(|| format!("copying {}", entry.path().display()))?;
        }
    }
    Ok(())
}
