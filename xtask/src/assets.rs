//! The asset list of a built `dist/`: every app-shell file with its sha256, and a version
//! derived from all of them.

use anyhow::Result;
use hearth_protocol::{AssetEntry, AssetList};
use sha2::{Digest, Sha256};
use std::path::Path;

/// Files in `dist/` that are not precached: the service worker script itself (the browser
/// manages it), the list, and the deploy config (which changes per deployment without a
/// rebuild, so the service worker fetches it network-first instead), and the static-host
/// headers file (hosts that read it do not serve it).
pub const NOT_PRECACHED: &[&str] = &[
    "sw.js",
    crate::csp::HEADERS_FILE,
    hearth_protocol::assets::ASSET_LIST_FILE,
    hearth_protocol::config::CONFIG_FILE,
];

pub fn asset_list(dist: &Path) -> Result<AssetList> {
    let mut assets = Vec::new();
    for entry in walkdir::WalkDir::new(dist).sort_by_file_name() {
        let entry = entry?;
        if !entry.file_type().is_file() {
            continue;
        }
        let rel = entry
            .path()
            .strip_prefix(dist)?
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join("/");
        if NOT_PRECACHED.contains(&rel.as_str()) {
            continue;
        }
        let bytes = std::fs::read(entry.path())?;
        assets.push(AssetEntry {
            path: rel,
            sha256: hex::encode(Sha256::digest(&bytes)),
            bytes: bytes.len() as u64,
        });
    }
    Ok(AssetList {
        version: version_of(&assets),
        assets,
    })
}

/// 16 hex digits of a hash over every (path, hash) pair: any changed, added or removed asset
/// gives a new version.
fn version_of(assets: &[AssetEntry]) -> String {
    let mut h = Sha256::new();
    for a in assets {
        h.update(a.path.as_bytes());
        h.update([0]);
        h.update(a.sha256.as_bytes());
        h.update([b'\n']);
    }
    hex::encode(h.finalize())[..16].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dist(files: &[(&str, &str)]) -> std::path::PathBuf {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "hearth-assets-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        for (path, body) in files {
            let p = dir.join(path);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, body).unwrap();
        }
        dir
    }

    #[test]
    fn lists_shell_files_with_hashes_and_skips_the_service_worker() {
        let dist = temp_dist(&[
            ("index.html", "abc"),
            ("app/a.wasm", "x"),
            ("sw.js", "s"),
            ("config.json", "{}"),
        ]);
        let list = asset_list(&dist).unwrap();
        let paths: Vec<_> = list.assets.iter().map(|a| a.path.as_str()).collect();
        assert_eq!(paths, ["app/a.wasm", "index.html"]);
        // sha256("abc"), computed independently (FIPS 180-2 test vector).
        assert_eq!(
            list.find("index.html").unwrap().sha256,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(list.version.len(), 16);
    }

    #[test]
    fn any_change_to_an_asset_changes_the_version() {
        let base = asset_list(&temp_dist(&[("index.html", "abc"), ("a.js", "1")])).unwrap();
        let edited = asset_list(&temp_dist(&[("index.html", "abd"), ("a.js", "1")])).unwrap();
        let added = asset_list(&temp_dist(&[
            ("index.html", "abc"),
            ("a.js", "1"),
            ("b.js", ""),
        ]))
        .unwrap();
        let renamed = asset_list(&temp_dist(&[("index.html", "abc"), ("c.js", "1")])).unwrap();
        let only_sw = asset_list(&temp_dist(&[
            ("index.html", "abc"),
            ("a.js", "1"),
            ("sw.js", "new"),
        ]))
        .unwrap();
        assert_ne!(base.version, edited.version);
        assert_ne!(base.version, added.version);
        assert_ne!(base.version, renamed.version);
        assert_eq!(base.version, only_sw.version);
    }
}
