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
