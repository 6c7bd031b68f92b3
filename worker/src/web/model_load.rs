//! Loading a packed model: its manifest, then each chunk in order through the service worker
//! (which answers from its verified store, or downloads, verifies and stores), every piece of
//! bytes pushed into the streaming GGUF loader as it arrives, so tensors go to the GPU while
//! the download runs and wasm memory holds little more than one piece at a time. The
//! adapter's limits are checked as soon as the header is in (the first chunk): the loader
//! plans every tensor's buffers then, so a device that cannot hold the model fails before the
//! rest is downloaded. A local file takes the same path, read from its `Blob` piece by piece.
//! On the CPU the same pieces are copied once into wasm memory, reserved when the header is in.

use super::backend::{choose, LoadedModel, Loader};
use super::errors::{engine_error, take_gpu_error, Failure};
use super::{fetch, is_cancelled, post};
use crate::gguf::model_facts;
use crate::session::ChatSession;
use crate::tokenizer::Tokenizer;
use hearth_protocol::{Backend, ErrorKind, FromWorker, LoadStage, ModelFacts, ModelManifest};
use wasm_bindgen_futures::JsFuture;

/// Manifests are small; a larger one is not ours.
const MANIFEST_LIMIT: usize = 4 << 20;
/// Progress is posted at most once per this many bytes.
const PROGRESS_STEP: u64 = 2 << 20;

fn progress(id: u32, stage: LoadStage, done: u64, total: u64) {
    post(&FromWorker::LoadProgress {
        id,
        stage,
        bytes_done: done,
        bytes_total: total,
    });
}

fn cancelled() -> Failure {
    Failure::new(ErrorKind::Cancelled, "the model load was cancelled".into())
}

pub async fn load(
    id: u32,
    backend: Backend,
    manifest_url: &str,
) -> Result<(ChatSession<LoadedModel>, FromWorker), Failure> {
    let started = js_sys::Date::now();
    progress(id, LoadStage::Prepare, 0, 0);
    let text = fetch::text(manifest_url, "the model's manifest", MANIFEST_LIMIT).await?;
    let manifest: ModelManifest = serde_json::from_str(&text).map_err(|e| {
        Failure::new(
            ErrorKind::Model,
            format!("the model's manifest is not valid: {e}"),
        )
    })?;
    manifest.validate().map_err(|e| {
        Failure::new(
            ErrorKind::Model,
            format!("the model's manifest cannot be used: {e}"),
        )
    })?;

    let total = manifest.file.size;
    let (mut loader, fallback) = choose(backend, total).await?;
    let mut done = 0u64;
    let mut reported = 0u64;
    progress(id, LoadStage::Download, 0, total);
    for chunk in &manifest.chunks {
        if is_cancelled(id) {
            return Err(cancelled());
        }
        let url = web_sys::Url::new_with_base(&chunk.name, manifest_url)
            .map_err(|_| {
                Failure::new(
                    ErrorKind::Model,
                    format!("bad chunk URL for {}", chunk.name),
                )
            })?
            .href();
        let what = format!("chunk {}", chunk.name);
        let response = fetch::get(&url, &what).await?;
        let received = fetch::read_body(&response, &what, |piece| {
            if is_cancelled(id) {
                return Err(cancelled());
            }
            loader.push(piece).map_err(engine_error)?;
            done += piece.len() as u64;
            if done - reported >= PROGRESS_STEP {
                reported = done;
                progress(id, LoadStage::Download, done, total);
            }
            Ok(())
        })
        .await?;
        if received != chunk.size {
            return Err(Failure::new(
                ErrorKind::Network,
                format!(
                    "chunk {} arrived with {received} bytes instead of {}",
                    chunk.name, chunk.size
                ),
            ));
        }
        if let Some(f) = take_gpu_error() {
            return Err(f);
        }
    }
    progress(id, LoadStage::Upload, total, total);
    finish(id, loader, fallback, manifest.model, started).await
}

/// Pieces of a local file read at a time: large enough that reading is not the bottleneck,
/// small enough that wasm memory stays small.
const FILE_PIECE: u64 = 16 << 20;

/// Loads a GGUF file from this device: read piece by piece (`Blob.slice`) into the same
/// streaming loader, so the whole file is never in memory.
pub async fn load_file(
    id: u32,
    backend: Backend,
    file: &web_sys::Blob,
    name: &str,
    size: u64,
) -> Result<(ChatSession<LoadedModel>, FromWorker), Failure> {
    let started = js_sys::Date::now();
    let total = file.size() as u64;
    if total != size {
        return Err(Failure::new(
            ErrorKind::Model,
            format!("{name} changed while it was being opened ({size} bytes, now {total})"),
        ));
    }
    let (mut loader, fallback) = choose(backend, total).await?;
    let mut buffer = Vec::new();
    let mut done = 0u64;
    progress(id, LoadStage::Read, 0, total);
    while done < total {
        if is_cancelled(id) {
            return Err(cancelled());
        }
        let end = (done + FILE_PIECE).min(total);
        let unreadable = |e: wasm_bindgen::JsValue| {
            Failure::new(
                ErrorKind::Model,
                format!("{name} could not be read: {}", describe(&e)),
            )
        };
        let piece = file
            .slice_with_f64_and_f64(done as f64, end as f64)
            .map_err(unreadable)?;
        let bytes = JsFuture::from(piece.array_buffer())
            .await
            .map_err(unreadable)?;
        let bytes = js_sys::Uint8Array::new(&bytes);
        buffer.resize(bytes.length() as usize, 0);
        bytes.copy_to(&mut buffer);
        if buffer.is_empty() {
            return Err(Failure::new(
                ErrorKind::Model,
                format!("{name} ended after {done} of {total} bytes"),
            ));
        }
        loader
            .push(&buffer)
            .map_err(|e| named(name, engine_error(e)))?;
        done += buffer.len() as u64;
        progress(id, LoadStage::Read, done, total);
        if let Some(f) = take_gpu_error() {
            return Err(f);
        }
    }
    progress(id, LoadStage::Upload, total, total);
    let facts = loader
        .header()
        .ok_or_else(|| no_header(name))
        .and_then(|h| {
            model_facts(h, name.trim_end_matches(".gguf"))
                .map_err(|e| Failure::new(ErrorKind::Model, format!("{name} cannot be used: {e}")))
        })?;
    finish(id, loader, fallback, facts, started)
        .await
        .map_err(|f| named(name, f))
}

fn no_header(name: &str) -> Failure {
    Failure::new(
        ErrorKind::Model,
        format!("{name} is not a GGUF model file (it has no GGUF header)"),
    )
}

/// A model error about a local file says which file.
fn named(name: &str, f: Failure) -> Failure {
    if f.kind == ErrorKind::Model && !f.message.contains(name) {
        Failure::new(f.kind, format!("{name}: {}", f.message))
    } else {
        f
    }
}

fn describe(e: &wasm_bindgen::JsValue) -> String {
    use wasm_bindgen::JsCast;
    e.dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .or_else(|| e.as_string())
        .unwrap_or_else(|| format!("{e:?}"))
}

/// The common end of both paths: the tokenizer from the header and the model built from what
/// was streamed in.
async fn finish(
    id: u32,
    loader: Loader,
    fallback: Option<String>,
    model: ModelFacts,
    started: f64,
) -> Result<(ChatSession<LoadedModel>, FromWorker), Failure> {
    let tokenizer = loader
        .header()
        .ok_or_else(|| Failure::new(ErrorKind::Model, "the file has no GGUF header".into()))
        .and_then(|h| {
            Tokenizer::from_gguf(h).map_err(|e| {
                Failure::new(
                    ErrorKind::Model,
                    format!("the model's tokenizer cannot be built: {e}"),
                )
            })
        })?;
    let (loaded, adapter) = loader.finish().await?;
    let context = crate::session::LanguageModel::capacity(&loaded) as u32;
    let reply = FromWorker::Loaded {
        id,
        model,
        runs_on: loaded.runs_on(),
        adapter,
        fallback,
        context,
        load_ms: js_sys::Date::now() - started,
    };
    Ok((ChatSession::new(loaded, tokenizer), reply))
}
