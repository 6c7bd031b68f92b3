//! `cargo xtask pack M.gguf --out DIR`: splits a GGUF into verified chunks for the browser.
//! Writes `DIR/<id>/net_part{i}.gguf.chunk`, `DIR/<id>/net_metadata.json` (model facts, the
//! whole file's and each chunk's size and SHA-256) and adds the model to `DIR/models.json`.
//! The manifest is written last, so an interrupted pack never looks complete.

use anyhow::{bail, Context, Result};
use hearth_protocol::manifest::{
    self, CatalogEntry, ChunkEntry, FileDigest, ModelCatalog, ModelFacts, ModelManifest,
    CATALOG_FILE, FORMAT_VERSION, MANIFEST_FILE,
};
use hearth_worker::gguf::GgufHeader;
use sha2::{Digest, Sha256};
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

#[derive(clap::Args)]
pub struct Args {
    /// The GGUF model to pack.
    pub model: PathBuf,
    /// Folder of packed models (the model base URL serves it).
    #[arg(long)]
    pub out: PathBuf,
    /// Chunk size in MiB.
    #[arg(long, default_value_t = 16)]
    pub chunk_mib: u64,
    /// The model's id and folder name (default: from the file name).
    #[arg(long)]
    pub id: Option<String>,
}

pub fn run(args: Args) -> Result<()> {
    let entry = pack(
        &args.model,
        &args.out,
        args.chunk_mib << 20,
        args.id.as_deref(),
    )?;
    println!(
        "packed {} ({} bytes) into {}",
        entry.model.name,
        entry.size,
        args.out.join(&entry.id).display()
    );
    Ok(())
}

/// The id a file packs under by default: its stem, lowercase, with other characters as `-`.
pub fn default_id(model: &Path) -> String {
    let stem = model
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let id: String = stem
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '_' {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    if id.is_empty() {
        "model".into()
    } else {
        id
    }
}

/// Packs `model` into `out/<id>/` and records it in `out/models.json`; does nothing when the
/// folder already holds a pack of this same file (size, modification time, chunk size).
pub fn pack(model: &Path, out: &Path, chunk_bytes: u64, id: Option<&str>) -> Result<CatalogEntry> {
    if chunk_bytes == 0 || chunk_bytes > manifest::MAX_CHUNK_BYTES {
        bail!(
            "a chunk must hold 1 byte to {} MiB",
            manifest::MAX_CHUNK_BYTES >> 20
        );
    }
    let id = id.map_or_else(|| default_id(model), str::to_string);
    if !manifest::is_plain_name(&id) {
        bail!("{id:?} cannot be a model id (letters, digits, '-', '_', '.')");
    }
    let folder = out.join(&id);
    let meta = std::fs::metadata(model).with_context(|| format!("reading {}", model.display()))?;
    let source_stamp = format!(
        "{} {} {:?} {chunk_bytes}",
        std::fs::canonicalize(model)?.display(),
        meta.len(),
        meta.modified().ok()
    );
    let stamp_path = folder.join(".source");
    let manifest_path = folder.join(MANIFEST_FILE);
    let manifest = match read_existing(&manifest_path, &stamp_path, &source_stamp) {
        Some(manifest) => manifest,
        None => {
            if folder.exists() {
                std::fs::remove_dir_all(&folder)
                    .with_context(|| format!("clearing {}", folder.display()))?;
            }
            std::fs::create_dir_all(&folder)?;
            let manifest = write_chunks(model, &folder, chunk_bytes)?;
            manifest.validate().context("the manifest pack made")?;
            write_atomically(&manifest_path, &serde_json::to_vec_pretty(&manifest)?)?;
            std::fs::write(&stamp_path, &source_stamp)?;
            manifest
        }
    };
    let entry = CatalogEntry {
        id: id.clone(),
        manifest: format!("{id}/{MANIFEST_FILE}"),
        model: manifest.model.clone(),
        size: manifest.file.size,
    };
    add_to_catalog(out, entry.clone())?;
    Ok(entry)
}

fn read_existing(manifest: &Path, stamp: &Path, source_stamp: &str) -> Option<ModelManifest> {
    if std::fs::read_to_string(stamp).ok()? != source_stamp {
        return None;
    }
    let manifest: ModelManifest = serde_json::from_slice(&std::fs::read(manifest).ok()?).ok()?;
    manifest.validate().ok()?;
    Some(manifest)
}

fn write_chunks(model: &Path, folder: &Path, chunk_bytes: u64) -> Result<ModelManifest> {
    let file =
        std::fs::File::open(model).with_context(|| format!("opening {}", model.display()))?;
    let len = file.metadata()?.len();
    let header = GgufHeader::read_from(BufReader::new(file), Some(len))
        .with_context(|| format!("{} is not a usable GGUF file", model.display()))?;
    let facts = model_facts(&header, model)?;

    let mut file = BufReader::with_capacity(1 << 20, std::fs::File::open(model)?);
    let mut whole = Sha256::new();
    let mut chunks = Vec::new();
    let mut buffer = vec![0u8; chunk_bytes as usize];
    let mut offset = 0u64;
    loop {
        let filled = read_full(&mut file, &mut buffer)?;
        if filled == 0 {
            break;
        }
        let bytes = &buffer[..filled];
        whole.update(bytes);
        let name = manifest::chunk_name(chunks.len());
        write_atomically(&folder.join(&name), bytes)?;
        chunks.push(ChunkEntry {
            name,
            offset,
            size: filled as u64,
            sha256: hex::encode(Sha256::digest(bytes)),
        });
        offset += filled as u64;
    }
    if offset != len {
        bail!("{} changed while it was packed", model.display());
    }
    Ok(ModelManifest {
        format_version: FORMAT_VERSION,
        model: facts,
        file: FileDigest {
            size: len,
            sha256: hex::encode(whole.finalize()),
        },
        chunks,
    })
}

/// Reads until `buffer` is full or the file ends.
fn read_full(reader: &mut impl Read, buffer: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buffer.len() {
        match reader.read(&mut buffer[filled..])? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}

/// What the catalog and the loader's checks need, from the GGUF header.
pub fn model_facts(header: &GgufHeader, path: &Path) -> Result<ModelFacts> {
    Ok(hearth_worker::gguf::model_facts(header, &default_id(path))?)
}

/// Adds or replaces `entry` in `out/models.json`.
fn add_to_catalog(out: &Path, entry: CatalogEntry) -> Result<()> {
    let path = out.join(CATALOG_FILE);
    let mut catalog = match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice::<ModelCatalog>(&bytes)
            .with_context(|| format!("{} is not a model catalog", path.display()))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => ModelCatalog {
            format_version: FORMAT_VERSION,
            models: Vec::new(),
        },
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    catalog.models.retain(|m| m.id != entry.id);
    catalog.models.push(entry);
    catalog.models.sort_by(|a, b| a.id.cmp(&b.id));
    catalog.validate()?;
    write_atomically(&path, &serde_json::to_vec_pretty(&catalog)?)
}

/// Writes through a temporary file and a rename, so readers never see half a file.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension("partial");
    std::fs::write(&tmp, bytes).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use hearth_worker::gguf::GgmlType;
    use hearth_worker::gguf::{GgufWriter, MetadataValue};

    fn tiny_gguf(path: &Path, data_len: usize) {
        let mut writer = GgufWriter::new();
        writer.set(
            "general.architecture",
            MetadataValue::String("llama".into()),
        );
        writer.set("general.name", MetadataValue::String("Tiny".into()));
        writer.set("llama.context_length", MetadataValue::U32(64));
        let data: Vec<u8> = (0..data_len * 4).map(|i| (i * 7 % 251) as u8).collect();
        writer
            .add_tensor("w", &[data_len as u64], GgmlType::F32)
            .unwrap();
        std::fs::write(path, writer.to_bytes(&[&data]).unwrap()).unwrap();
    }

    #[test]
    fn chunks_reassemble_into_the_file_and_match_their_hashes() {
        let dir = std::env::temp_dir().join(format!("hearth-pack-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let model = dir.join("Tiny Model.gguf");
        tiny_gguf(&model, 3000);
        let out = dir.join("packed");
        let entry = pack(&model, &out, 4096, None).unwrap();
        assert_eq!(entry.id, "tiny-model");
        assert_eq!(entry.model.name, "Tiny");
        assert_eq!(entry.model.quantization, "F32");
        assert_eq!(entry.model.parameter_count, 3000);
        assert_eq!(entry.model.context_length, 64);

        let original = std::fs::read(&model).unwrap();
        let manifest: ModelManifest =
            serde_json::from_slice(&std::fs::read(out.join(&entry.manifest)).unwrap()).unwrap();
        manifest.validate().unwrap();
        assert_eq!(manifest.chunks.len(), original.len().div_ceil(4096));
        let mut joined = Vec::new();
        for chunk in &manifest.chunks {
            let bytes = std::fs::read(out.join(&entry.id).join(&chunk.name)).unwrap();
            assert_eq!(hex::encode(Sha256::digest(&bytes)), chunk.sha256);
            joined.extend(bytes);
        }
        assert_eq!(joined, original);
        assert_eq!(manifest.file.sha256, hex::encode(Sha256::digest(&original)));

        // Packing again keeps one catalog entry; a second model is added beside it.
        pack(&model, &out, 4096, None).unwrap();
        pack(&model, &out, 8192, Some("other")).unwrap();
        let catalog: ModelCatalog =
            serde_json::from_slice(&std::fs::read(out.join(CATALOG_FILE)).unwrap()).unwrap();
        let ids: Vec<_> = catalog.models.iter().map(|m| m.id.as_str()).collect();
        assert_eq!(ids, ["other", "tiny-model"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_file_that_is_not_gguf_is_refused_before_any_chunk_is_written() {
        let dir = std::env::temp_dir().join(format!("hearth-pack-bad-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let model = dir.join("bad.gguf");
        std::fs::write(&model, b"not a gguf file at all").unwrap();
        let err = pack(&model, &dir.join("out"), 4096, None).unwrap_err();
        assert!(format!("{err:#}").contains("not a usable GGUF"), "{err:#}");
        assert!(!dir.join("out/bad/net_metadata.json").exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
