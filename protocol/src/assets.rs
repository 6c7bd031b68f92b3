//! The build's asset list: what the service worker precaches, and the cache version.

use serde::{Deserialize, Serialize};

/// File name of the asset list inside `dist/`.
pub const ASSET_LIST_FILE: &str = "assets.json";

/// Every file of the app shell with its content hash. `version` is derived from all of them,
/// so any changed asset means a new cache.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssetList {
    pub version: String,
    pub assets: Vec<AssetEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssetEntry {
    /// Path relative to the app's root, with `/` separators and no leading slash.
    pub path: String,
    /// Lower-case hex sha256 of the file's bytes.
    pub sha256: String,
    pub bytes: u64,
}

impl AssetList {
    /// Name of the Cache Storage cache that holds this version of the app shell.
    pub fn cache_name(&self) -> String {
        shell_cache_name(&self.version)
    }

    pub fn find(&self, path: &str) -> Option<&AssetEntry> {
        self.assets.iter().find(|a| a.path == path)
    }
}

/// Prefix shared by every app-shell cache; caches with this prefix and another version are
/// deleted when a new service worker activates.
pub const SHELL_CACHE_PREFIX: &str = "hearth-shell-";

pub fn shell_cache_name(version: &str) -> String {
    format!("{SHELL_CACHE_PREFIX}{version}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn asset_list_round_trips_through_json() {
        let list = AssetList {
            version: "0123abcd".into(),
            assets: vec![AssetEntry {
                path: "index.html".into(),
                sha256: "ab".repeat(32),
                bytes: 12,
            }],
        };
        let json = serde_json::to_string(&list).unwrap();
        let back: AssetList = serde_json::from_str(&json).unwrap();
        assert_eq!(back, list);
        assert_eq!(back.cache_name(), "hearth-shell-0123abcd");
        assert!(back.find("index.html").is_some());
        assert!(back.find("missing.js").is_none());
    }
}
