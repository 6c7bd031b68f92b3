//! Packed models: `net_metadata.json` (one model's chunks, [`ModelManifest`]) and
//! `models.json` (the catalog the model picker reads, [`ModelCatalog`]), written by
//! `cargo xtask pack` and read by the service worker's chunk proxy and the engine's loader.
//!
//! Layout under the model base URL: `models.json`, and per model a folder holding its
//! `net_metadata.json` and chunks `net_part{i}.gguf.chunk`. A chunk's URL is its manifest's
//! URL with the file name replaced by the chunk's name.

use serde::{Deserialize, Serialize};
use std::fmt;

/// File name of a packed model's manifest.
pub const MANIFEST_FILE: &str = "net_metadata.json";
/// File name of the model catalog.
pub const CATALOG_FILE: &str = "models.json";
/// The manifest and catalog format this code reads and writes.
pub const FORMAT_VERSION: u32 = 1;
/// Every chunk's file name ends so.
pub const CHUNK_SUFFIX: &str = ".gguf.chunk";
/// Default chunk size of `xtask pack`.
pub const DEFAULT_CHUNK_BYTES: u64 = 16 << 20;
/// Largest chunk a reader accepts: a chunk is held whole in memory while its hash is checked,
/// so a manifest cannot make the service worker allocate more than this.
pub const MAX_CHUNK_BYTES: u64 = 256 << 20;
/// Most chunks one manifest may list (64 GiB of 16 MiB chunks).
pub const MAX_CHUNKS: usize = 4096;

/// The name of chunk `index`.
pub fn chunk_name(index: usize) -> String {
    format!("net_part{index}{CHUNK_SUFFIX}")
}

/// What a user and the loader need to know about a model before downloading it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelFacts {
    /// Human name (`general.name`, else the file name).
    pub name: String,
    /// `general.architecture`, e.g. `llama`.
    pub architecture: String,
    /// Weights' element count.
    pub parameter_count: u64,
    /// The dominant tensor type by bytes, e.g. `Q6_K`.
    pub quantization: String,
    /// The model's trained context length in tokens.
    pub context_length: u64,
    pub vocab_size: u64,
    /// Bytes of tensor data (what the GPU holds, before the KV cache).
    pub tensor_bytes: u64,
}

/// The whole file a manifest describes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileDigest {
    pub size: u64,
    /// Lowercase hex SHA-256.
    pub sha256: String,
}

/// One chunk: bytes `offset..offset + size` of the file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChunkEntry {
    pub name: String,
    pub offset: u64,
    pub size: u64,
    /// Lowercase hex SHA-256 of the chunk's bytes; chunks are stored keyed by it.
    pub sha256: String,
}

/// `net_metadata.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelManifest {
    pub format_version: u32,
    pub model: ModelFacts,
    pub file: FileDigest,
    /// In file order, contiguous from offset 0.
    pub chunks: Vec<ChunkEntry>,
}

/// `models.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelCatalog {
    pub format_version: u32,
    pub models: Vec<CatalogEntry>,
}

/// A model offered by the picker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogEntry {
    /// Stable identifier, also the model's folder name.
    pub id: String,
    /// The manifest's path relative to the catalog, e.g. `smollm2/net_metadata.json`.
    pub manifest: String,
    pub model: ModelFacts,
    /// Download size in bytes.
    pub size: u64,
}

/// Why a manifest or catalog is unusable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ManifestError {
    Version(u32),
    NoChunks,
    TooManyChunks(usize),
    BadName(String),
    BadHash(String),
    ChunkSize {
        name: String,
        size: u64,
    },
    Gap {
        name: String,
        offset: u64,
        expected: u64,
    },
    Size {
        chunks: u64,
        file: u64,
    },
    DuplicateId(String),
}

impl fmt::Display for ManifestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Version(v) => write!(
                f,
                "format version {v} is not supported (this app reads version {FORMAT_VERSION})"
            ),
            Self::NoChunks => write!(f, "it lists no chunks"),
            Self::TooManyChunks(n) => write!(f, "it lists {n} chunks (at most {MAX_CHUNKS})"),
            Self::BadName(n) => write!(f, "{n:?} is not a plain file name"),
            Self::BadHash(h) => write!(f, "{h:?} is not a lowercase hex SHA-256"),
            Self::ChunkSize { name, size } => write!(
                f,
                "chunk {name} has {size} bytes (1 to {MAX_CHUNK_BYTES} allowed)"
            ),
            Self::Gap {
                name,
                offset,
                expected,
            } => write!(
                f,
                "chunk {name} starts at byte {offset}, but the previous one ends at {expected}"
            ),
            Self::Size { chunks, file } => {
                write!(f, "its chunks hold {chunks} bytes, but the file has {file}")
            }
            Self::DuplicateId(id) => write!(f, "model id {id:?} appears twice"),
        }
    }
}

impl std::error::Error for ManifestError {}

/// A name that is safe as a URL path segment and a file name.
pub fn is_plain_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && name != "."
        && name != ".."
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// Lowercase hex SHA-256.
pub fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

impl ModelManifest {
    /// Checks what readers rely on: a known version, plain chunk names, well-formed hashes,
    /// bounded chunk sizes, chunks contiguous from 0 covering exactly the file.
    pub fn validate(&self) -> Result<(), ManifestError> {
        if self.format_version != FORMAT_VERSION {
            return Err(ManifestError::Version(self.format_version));
        }
        if self.chunks.is_empty() {
            return Err(ManifestError::NoChunks);
        }
        if self.chunks.len() > MAX_CHUNKS {
            return Err(ManifestError::TooManyChunks(self.chunks.len()));
        }
        if !is_sha256_hex(&self.file.sha256) {
            return Err(ManifestError::BadHash(self.file.sha256.clone()));
        }
        let mut expected = 0u64;
        for chunk in &self.chunks {
            if !is_plain_name(&chunk.name) || !chunk.name.ends_with(CHUNK_SUFFIX) {
                return Err(ManifestError::BadName(chunk.name.clone()));
            }
            if !is_sha256_hex(&chunk.sha256) {
                return Err(ManifestError::BadHash(chunk.sha256.clone()));
            }
            if chunk.size == 0 || chunk.size > MAX_CHUNK_BYTES {
                return Err(ManifestError::ChunkSize {
                    name: chunk.name.clone(),
                    size: chunk.size,
                });
            }
            if chunk.offset != expected {
                return Err(ManifestError::Gap {
                    name: chunk.name.clone(),
                    offset: chunk.offset,
                    expected,
                });
            }
            expected += chunk.size;
        }
        if expected != self.file.size {
            return Err(ManifestError::Size {
                chunks: expected,
                file: self.file.size,
            });
        }
        Ok(())
    }

    /// The chunk with this file name.
    pub fn chunk(&self, name: &str) -> Option<&ChunkEntry> {
        self.chunks.iter().find(|c| c.name == name)
    }
}

impl ModelCatalog {
    pub fn validate(&self) -> Result<(), ManifestError> {
        if self.format_version != FORMAT_VERSION {
            return Err(ManifestError::Version(self.format_version));
        }
        let mut seen = std::collections::HashSet::new();
        for entry in &self.models {
            if !is_plain_name(&entry.id) {
                return Err(ManifestError::BadName(entry.id.clone()));
            }
            if !seen.insert(entry.id.as_str()) {
                return Err(ManifestError::DuplicateId(entry.id.clone()));
            }
            let parts: Vec<&str> = entry.manifest.split('/').collect();
            if !parts.iter().all(|p| is_plain_name(p)) {
                return Err(ManifestError::BadName(entry.manifest.clone()));
            }
        }
        Ok(())
    }
}

/// Splits a chunk URL into (its manifest's URL, the chunk's name); `None` unless the last
/// path segment is a chunk name. Query and fragment are ignored.
pub fn chunk_url_parts(url: &str) -> Option<(String, &str)> {
    let path = url.split(['?', '#']).next()?;
    let slash = path.rfind('/')?;
    let name = &path[slash + 1..];
    if !name.ends_with(CHUNK_SUFFIX) || !is_plain_name(name) {
        return None;
    }
    Some((format!("{}{MANIFEST_FILE}", &path[..=slash]), name))
}

/// Whether `url` names a manifest (query and fragment ignored).
pub fn is_manifest_url(url: &str) -> bool {
    url.split(['?', '#'])
        .next()
        .is_some_and(|p| p.ends_with(&format!("/{MANIFEST_FILE}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hash(c: char) -> String {
        std::iter::repeat_n(c, 64).collect()
    }

    fn manifest(sizes: &[u64]) -> ModelManifest {
        let mut offset = 0;
        let chunks = sizes
            .iter()
            .enumerate()
            .map(|(i, &size)| {
                let c = ChunkEntry {
                    name: chunk_name(i),
                    offset,
                    size,
                    sha256: hash('a'),
                };
                offset += size;
                c
            })
            .collect();
        ModelManifest {
            format_version: FORMAT_VERSION,
            model: ModelFacts {
                name: "m".into(),
                architecture: "llama".into(),
                parameter_count: 1,
                quantization: "Q6_K".into(),
                context_length: 8,
                vocab_size: 4,
                tensor_bytes: 1,
            },
            file: FileDigest {
                size: offset,
                sha256: hash('b'),
            },
            chunks,
        }
    }

    #[test]
    fn a_contiguous_manifest_is_valid_and_round_trips() {
        let m = manifest(&[10, 10, 3]);
        m.validate().unwrap();
        let json = serde_json::to_string(&m).unwrap();
        assert_eq!(serde_json::from_str::<ModelManifest>(&json).unwrap(), m);
        assert_eq!(m.chunk("net_part2.gguf.chunk").unwrap().offset, 20);
    }

    #[test]
    fn malformed_manifests_are_rejected_with_the_reason() {
        let mut m = manifest(&[10, 10]);
        m.chunks[1].offset = 11;
        assert!(matches!(m.validate(), Err(ManifestError::Gap { .. })));
        let mut m = manifest(&[10, 10]);
        m.file.size = 21;
        assert!(matches!(m.validate(), Err(ManifestError::Size { .. })));
        let mut m = manifest(&[10]);
        m.chunks[0].name = "../x.gguf.chunk".into();
        assert!(matches!(m.validate(), Err(ManifestError::BadName(_))));
        let mut m = manifest(&[10]);
        m.chunks[0].sha256 = hash('A');
        assert!(matches!(m.validate(), Err(ManifestError::BadHash(_))));
        let m = manifest(&[MAX_CHUNK_BYTES + 1]);
        assert!(matches!(m.validate(), Err(ManifestError::ChunkSize { .. })));
        let mut m = manifest(&[10]);
        m.format_version = 2;
        assert!(m.validate().unwrap_err().to_string().contains("version 2"));
        assert!(matches!(
            manifest(&[]).validate(),
            Err(ManifestError::NoChunks)
        ));
    }

    #[test]
    fn chunk_urls_map_to_their_manifest() {
        assert_eq!(
            chunk_url_parts("http://h:1/models/smol/net_part3.gguf.chunk?x=1"),
            Some((
                "http://h:1/models/smol/net_metadata.json".to_string(),
                "net_part3.gguf.chunk"
            ))
        );
        assert_eq!(chunk_url_parts("http://h/models/smol/model.gguf"), None);
        assert!(is_manifest_url("http://h/m/net_metadata.json?v=2"));
        assert!(!is_manifest_url("http://h/m/net_metadata.json.bak"));
    }

    #[test]
    fn catalog_rejects_paths_that_leave_its_folder() {
        let entry = CatalogEntry {
            id: "smol".into(),
            manifest: "smol/net_metadata.json".into(),
            model: manifest(&[1]).model,
            size: 1,
        };
        let mut c = ModelCatalog {
            format_version: FORMAT_VERSION,
            models: vec![entry.clone()],
        };
        c.validate().unwrap();
        c.models[0].manifest = "../x/net_metadata.json".into();
        assert!(c.validate().is_err());
        c.models = vec![entry.clone(), entry];
        assert!(matches!(c.validate(), Err(ManifestError::DuplicateId(_))));
    }
}
