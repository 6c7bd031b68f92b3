//! The chunk proxy: a GET for a chunk listed in a known manifest is answered from IndexedDB
//! when stored; otherwise it is downloaded, checked against the manifest (length and sha256)
//! BEFORE it is stored, stored, and then answered. Bad bytes are never stored or served: the
//! download is retried bypassing the HTTP cache, then answered with an error that names the
//! chunk. Concurrent requests for one chunk (by hash, so also from two models) share one
//! download. Chunks of unknown manifests go to the network untouched.

use crate::broadcast::broadcast;
use crate::chunk_check::{failure_message, ChunkCheck, ChunkError, MAX_ATTEMPTS};
use crate::chunk_store::{ChunkStore, StoreError};
use crate::global::{describe, fetch_from_network, pass_through, text_response, warn};
use crate::manifests;
use crate::references::{model_status, KnownManifest};
use hearth_protocol::{ChunkEntry, SwEvent};
use js_sys::{Array, Object, Promise, Reflect, Uint8Array};
use std::cell::RefCell;
use std::collections::HashMap;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::{future_to_promise, JsFuture};
use web_sys::{
    Blob, BlobPropertyBag, ReadableStreamDefaultReader, Request, RequestCache, Response,
    ResponseInit,
};

const CHUNK_TYPE: &str = "application/octet-stream";

thread_local! {
    /// Downloads in progress, by sha256: each resolves with the stored Blob or rejects with
    /// a `{ status, message }` failure.
    static IN_FLIGHT: RefCell<HashMap<String, Promise>> = RefCell::new(HashMap::new());
}

/// Answers a GET for chunk `name` of the model whose manifest is at `manifest_url`.
pub async fn answer(
    request: &Request,
    manifest_url: &str,
    name: &str,
) -> Result<Response, JsValue> {
    let store = match ChunkStore::open().await {
        Ok(store) => store,
        Err(e) => {
            warn(&format!(
                "chunk store unavailable, {name} goes to the network: {e}"
            ));
            return pass_through(request).await;
        }
    };
    let manifest = match manifests::known(&store, manifest_url).await {
        Ok(Some(manifest)) => manifest,
        // Not a model this service worker knows (or its manifest is unreadable): the network
        // answers, as it would without a service worker.
        _ => return pass_through(request).await,
    };
    let Some(entry) = manifest.chunk(name).cloned() else {
        return pass_through(request).await;
    };

    let shared = in_flight(&entry.sha256);
    if shared.is_none() {
        match store.chunk(&entry.sha256).await {
            Ok(Some(blob)) => return chunk_response(&blob),
            Ok(None) => {}
            Err(e) => warn(&format!("reading {name} from IndexedDB failed: {e}")),
        }
    }
    // Re-checked after the await above: a download may have started meanwhile.
    let download = shared
        .or_else(|| in_flight(&entry.sha256))
        .unwrap_or_else(|| {
            start_download(
                store,
                request.url(),
                KnownManifest {
                    url: manifest_url.to_string(),
                    manifest,
                },
                entry,
            )
        });
    match JsFuture::from(download).await {
        Ok(blob) => chunk_response(&blob.unchecked_into()),
        Err(failure) => {
            let field = |k: &str| Reflect::get(&failure, &JsValue::from_str(k)).ok();
            let status = field("status").and_then(|s| s.as_f64()).unwrap_or(502.0) as u16;
            let message = field("message")
                .and_then(|m| m.as_string())
                .unwrap_or_else(|| describe(&failure));
            text_response(status, &message)
        }
    }
}

fn in_flight(sha256: &str) -> Option<Promise> {
    IN_FLIGHT.with(|m| m.borrow().get(sha256).cloned())
}

fn chunk_response(blob: &Blob) -> Result<Response, JsValue> {
    let init = ResponseInit::new();
    init.set_status(200);
    let headers = web_sys::Headers::new()?;
    headers.set("content-type", CHUNK_TYPE)?;
    headers.set("content-length", &(blob.size() as u64).to_string())?;
    init.set_headers(&headers);
    Response::new_with_opt_blob_and_init(Some(blob), &init)
}

/// Starts the one download of `entry` that every request for it awaits.
fn start_download(
    store: ChunkStore,
    url: String,
    model: KnownManifest,
    entry: ChunkEntry,
) -> Promise {
    let key = entry.sha256.clone();
    let promise = future_to_promise(async move {
        let result = fetch_and_store(&store, &url, &model, &entry).await;
        IN_FLIGHT.with(|m| m.borrow_mut().remove(&entry.sha256));
        match result {
            Ok(blob) => Ok(blob.into()),
            Err((attempts, error)) => {
                let message = failure_message(&entry.name, &model.url, attempts, &error);
                warn(&message);
                broadcast(&SwEvent::ChunkFailed {
                    manifest_url: model.url.clone(),
                    chunk: entry.name.clone(),
                    message: message.clone(),
                })
                .await;
                let failure = Object::new();
                Reflect::set(&failure, &"status".into(), &error.status().into())?;
                Reflect::set(&failure, &"message".into(), &message.into())?;
                Err(failure.into())
            }
        }
    });
    IN_FLIGHT.with(|m| m.borrow_mut().insert(key, promise.clone()));
    promise
}

/// Downloads (with retries), verifies and stores one chunk, then tells every page how much
/// of its model is stored. Fails with the attempts made and the last error.
async fn fetch_and_store(
    store: &ChunkStore,
    url: &str,
    model: &KnownManifest,
    entry: &ChunkEntry,
) -> Result<Blob, (u32, ChunkError)> {
    let mut attempt = 1;
    let blob = loop {
        match download(url, entry).await {
            Ok(blob) => break blob,
            Err(e) if e.retryable() && attempt < MAX_ATTEMPTS => {
                warn(&format!(
                    "chunk {} attempt {attempt} of {MAX_ATTEMPTS} failed: {e}; retrying",
                    entry.name
                ));
                attempt += 1;
            }
            Err(e) => return Err((attempt, e)),
        }
    };
    store.put_chunk(&entry.sha256, &blob).await.map_err(|e| {
        let error = match e {
            StoreError::Full => ChunkError::StorageFull,
            StoreError::Failed(m) => ChunkError::Storage(m),
        };
        (attempt, error)
    })?;
    if let Ok(stored) = store.chunk_keys().await {
        let status = model_status(model, &stored);
        broadcast(&SwEvent::ChunkStored {
            manifest_url: model.url.clone(),
            chunk: entry.name.clone(),
            bytes_stored: status.bytes_stored,
            bytes_total: status.bytes_total,
        })
        .await;
    }
    Ok(blob)
}

/// One download of a chunk, bypassing the HTTP cache (a retry must not get the same bad bytes
/// back, and the chunk is stored in IndexedDB anyway). The body is hashed as it streams, a
/// piece at a time, so wasm memory never holds the chunk; the pieces become one Blob.
async fn download(url: &str, entry: &ChunkEntry) -> Result<Blob, ChunkError> {
    let mut check = ChunkCheck::new(entry);
    let response = fetch_from_network(url, RequestCache::NoStore)
        .await
        .map_err(|e| check.network_error(describe(&e)))?;
    if response.status() != 200 {
        return Err(ChunkError::Http {
            status: response.status(),
        });
    }
    let parts = Array::new();
    if let Some(body) = response.body() {
        let reader: ReadableStreamDefaultReader = body.get_reader().unchecked_into();
        let mut piece = Vec::new();
        loop {
            let next = JsFuture::from(reader.read())
                .await
                .map_err(|e| check.network_error(describe(&e)))?;
            if Reflect::get(&next, &"done".into())
                .ok()
                .and_then(|d| d.as_bool())
                .unwrap_or(true)
            {
                break;
            }
            let Ok(bytes) =
                Reflect::get(&next, &"value".into()).and_then(|v| v.dyn_into::<Uint8Array>())
            else {
                return Err(check.network_error("the body is not bytes"));
            };
            piece.resize(bytes.length() as usize, 0);
            bytes.copy_to(&mut piece);
            if let Err(e) = check.feed(&piece) {
                let _ = reader.cancel();
                return Err(e);
            }
            parts.push(&bytes);
        }
    }
    check.finish()?;
    let options = BlobPropertyBag::new();
    options.set_type(CHUNK_TYPE);
    Blob::new_with_u8_array_sequence_and_options(&parts, &options)
        .map_err(|e| ChunkError::Storage(describe(&e)))
}
