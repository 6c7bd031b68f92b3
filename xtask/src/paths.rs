//! Where things are in the repository.

use std::path::PathBuf;

/// The workspace root (the parent of `xtask/`).
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives inside the workspace")
        .to_path_buf()
}

/// Git-ignored folder for downloaded and derived files that are expensive to make again.
pub fn cache() -> PathBuf {
    root().join(".cache")
}

/// Cargo's build folder: `CARGO_TARGET_DIR` when set (relative to the root, as cargo reads it),
/// else `target/`.
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if !dir.is_empty() => root().join(dir),
        _ => root().join("target"),
    }
}
