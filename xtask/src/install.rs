//! Installing what the build and the tests need on a fresh machine: the wasm target,
//! wasm-bindgen-cli at exactly the version the crates pin, the npm packages of the committed
//! lockfile, and (as root) Debian packages for the browser and GPU tests.

use crate::{paths, process};
use anyhow::{bail, Context, Result};
use sha2::{Digest, Sha256};
use std::process::Command;

/// Must equal the `wasm-bindgen` version pinned in the workspace (a test checks Cargo.lock).
pub const WASM_BINDGEN_VERSION: &str = "0.2.130";
pub const WASM_TARGET: &str = "wasm32-unknown-unknown";

/// Everything `cargo xtask build` needs.
pub fn build_tools() -> Result<()> {
    wasm_target()?;
    wasm_bindgen_cli()?;
    npm_packages()
}

/// Everything `cargo xtask test` needs beyond the build tools.
pub fn test_tools() -> Result<()> {
    build_tools()?;
    debian_packages()
}

fn wasm_target() -> Result<()> {
    let installed =
        process::output(Command::new("rustup").args(["target", "list", "--installed"]))?;
    if installed.lines().any(|l| l.trim() == WASM_TARGET) {
        return Ok(());
    }
    println!("installing the {WASM_TARGET} target");
    process::run(Command::new("rustup").args(["target", "add", WASM_TARGET]))
}

fn wasm_bindgen_cli() -> Result<()> {
    let want = format!("wasm-bindgen {WASM_BINDGEN_VERSION}");
    let have = Command::new("wasm-bindgen")
        .arg("--version")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    if have.as_deref() == Some(want.as_str()) {
        return Ok(());
    }
    println!(
        "installing wasm-bindgen-cli {WASM_BINDGEN_VERSION} (found: {}); this takes a few minutes",
        have.as_deref().unwrap_or("none")
    );
    // Without --locked: the CLI's own lockfile does not build with current toolchains.
    process::run(Command::new("cargo").args([
        "install",
        "wasm-bindgen-cli",
        "--version",
        WASM_BINDGEN_VERSION,
        "--force",
    ]))
}

/// Runs `npm ci` when `node_modules` was not installed from the current lockfile.
fn npm_packages() -> Result<()> {
    let root = paths::root();
    let lock =
        std::fs::read(root.join("package-lock.json")).context("reading package-lock.json")?;
    let digest = hex::encode(Sha256::digest(&lock));
    let stamp = root.join("node_modules/.hearth-lockfile-sha256");
    if std::fs::read_to_string(&stamp).is_ok_and(|s| s.trim() == digest) {
        return Ok(());
    }
    println!("installing npm packages from package-lock.json");
    process::run(
        Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(&root),
    )?;
    std::fs::write(&stamp, digest)?;
    Ok(())
}

const DEBIAN_PACKAGES: &[&str] = &["chromium", "mesa-vulkan-drivers", "python3-pip"];

fn debian_installed(package: &str) -> bool {
    Command::new("dpkg-query")
        .args(["-W", "-f=${Status}", package])
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("install ok installed"))
}

fn is_root() -> bool {
    process::output(Command::new("id").arg("-u")).is_ok_and(|uid| uid.trim() == "0")
}

/// Chromium (browser tests), lavapipe (native GPU tests) and pip (registry fixtures).
fn debian_packages() -> Result<()> {
    if !process::exists("dpkg-query") {
        println!("not a Debian system: make sure chromium, a Vulkan driver and pip are installed");
        return Ok(());
    }
    let missing: Vec<&str> = DEBIAN_PACKAGES
        .iter()
        .copied()
        .filter(|p| !debian_installed(p))
        // Any working pip will do; the Debian package is only needed where there is none.
        .filter(|p| *p != "python3-pip" || !python_has_pip())
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    if !is_root() {
        bail!(
            "missing Debian packages {missing:?}; install them with: sudo apt-get install -y {}",
            missing.join(" ")
        );
    }
    println!("installing Debian packages {missing:?}");
    process::run(
        Command::new("apt-get")
            .arg("update")
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )?;
    process::run(
        Command::new("apt-get")
            .args(["install", "-y"])
            .args(&missing)
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )
}

fn python_has_pip() -> bool {
    Command::new("python3")
        .args(["-m", "pip", "--version"])
        .output()
        .is_ok_and(|o| o.status.success())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The CLI must match the library exactly, or wasm-bindgen refuses the module.
    #[test]
    fn pinned_cli_version_matches_the_lockfile() {
        let lock = std::fs::read_to_string(paths::root().join("Cargo.lock")).unwrap();
        let version = lock
            .split("[[package]]")
            .find(|p| p.contains("name = \"wasm-bindgen\"\n"))
            .and_then(|p| p.lines().find_map(|l| l.strip_prefix("version = \"")))
            .map(|v| v.trim_end_matches('"'))
            .expect("wasm-bindgen is in Cargo.lock");
        assert_eq!(version, WASM_BINDGEN_VERSION);
    }
}
