//! Which stored chunks the known manifests reference: what each model has stored, and what
//! may be deleted. Chunks are keyed by sha256, so one stored chunk can belong to several
//! models (or appear twice in one), and is deleted only when no known manifest lists it.

use hearth_protocol::{CachedModel, ModelManifest};
use std::collections::{BTreeMap, HashSet};

/// A manifest the service worker has stored, with the URL it was fetched from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownManifest {
    pub url: String,
    pub manifest: ModelManifest,
}

/// Every chunk hash the manifests list.
pub fn referenced(manifests: &[KnownManifest]) -> HashSet<&str> {
    manifests
        .iter()
        .flat_map(|m| m.manifest.chunks.iter().map(|c| c.sha256.as_str()))
        .collect()
}

/// Stored chunks that no manifest lists, sorted.
pub fn unreferenced(stored: &HashSet<String>, manifests: &[KnownManifest]) -> Vec<String> {
    let wanted = referenced(manifests);
    let mut out: Vec<String> = stored
        .iter()
        .filter(|h| !wanted.contains(h.as_str()))
        .cloned()
        .collect();
    out.sort();
    out
}

/// Chunks of `evicted` that no manifest in `others` lists, each once, with its size.
pub fn exclusive_chunks(
    evicted: &ModelManifest,
    others: &[KnownManifest],
) -> BTreeMap<String, u64> {
    let kept = referenced(others);
    evicted
        .chunks
        .iter()
        .filter(|c| !kept.contains(c.sha256.as_str()))
        .map(|c| (c.sha256.clone(), c.size))
        .collect()
}

/// How much of a model is stored. A chunk listed twice counts twice, as the loader reads it
/// twice.
pub fn model_status(known: &KnownManifest, stored: &HashSet<String>) -> CachedModel {
    let m = &known.manifest;
    let present: Vec<_> = m
        .chunks
        .iter()
        .filter(|c| stored.contains(&c.sha256))
        .collect();
    CachedModel {
        manifest_url: known.url.clone(),
        name: m.model.name.clone(),
        chunks_total: m.chunks.len() as u32,
        chunks_stored: present.len() as u32,
        bytes_total: m.file.size,
        bytes_stored: present.iter().map(|c| c.size).sum(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hearth_protocol::manifest::{chunk_name, FileDigest, ModelFacts, FORMAT_VERSION};
    use hearth_protocol::ChunkEntry;

    fn hash(c: char) -> String {
        std::iter::repeat_n(c, 64).collect()
    }

    fn known(url: &str, chunks: &[(char, u64)]) -> KnownManifest {
        let mut offset = 0;
        let chunks: Vec<ChunkEntry> = chunks
            .iter()
            .enumerate()
            .map(|(i, &(h, size))| {
                let c = ChunkEntry {
                    name: chunk_name(i),
                    offset,
                    size,
                    sha256: hash(h),
                };
                offset += size;
                c
            })
            .collect();
        let manifest = ModelManifest {
            format_version: FORMAT_VERSION,
            model: ModelFacts {
                name: format!("model at {url}"),
                architecture: "llama".into(),
                parameter_count: 1,
                quantization: "Q6_K".into(),
                context_length: 8,
                vocab_size: 4,
                tensor_bytes: 1,
            },
            file: FileDigest {
                size: offset,
                sha256: hash('f'),
            },
            chunks,
        };
        manifest.validate().unwrap();
        KnownManifest {
            url: url.into(),
            manifest,
        }
    }

    fn stored(hashes: &[char]) -> HashSet<String> {
        hashes.iter().map(|&c| hash(c)).collect()
    }

    #[test]
    fn status_counts_stored_chunks_and_bytes() {
        let a = known("a", &[('1', 10), ('2', 20), ('3', 5)]);
        let s = model_status(&a, &stored(&['2', '3', '9']));
        assert_eq!(
            s,
            CachedModel {
                manifest_url: "a".into(),
                name: "model at a".into(),
                chunks_total: 3,
                chunks_stored: 2,
                bytes_total: 35,
                bytes_stored: 25,
            }
        );
    }

    #[test]
    fn shared_chunks_survive_evicting_one_of_their_models() {
        let a = known("a", &[('1', 10), ('2', 20)]);
        let b = known("b", &[('1', 10), ('3', 30), ('3', 30)]);
        let only_b = exclusive_chunks(&b.manifest, std::slice::from_ref(&a));
        assert_eq!(only_b.into_iter().collect::<Vec<_>>(), [(hash('3'), 30)]);
        let all = [a.clone(), b];
        assert!(exclusive_chunks(&a.manifest, &all).is_empty());
    }

    #[test]
    fn unreferenced_chunks_are_those_no_manifest_lists() {
        let a = known("a", &[('1', 10), ('2', 20)]);
        let s = stored(&['1', '4', '2', '5']);
        assert_eq!(
            unreferenced(&s, std::slice::from_ref(&a)),
            [hash('4'), hash('5')]
        );
        assert_eq!(unreferenced(&s, &[]).len(), 4);
    }
}
