//! Known manifests. A model's `net_metadata.json` is fetched network first (revalidating the
//! HTTP cache); a valid one is stored in IndexedDB keyed by its URL and answered, and when the
//! network fails the stored copy answers. A manifest that is not ours or not valid is passed
//! through as the server sent it and never stored. When a stored manifest's content changes,
//! the chunks that no known manifest references any more are deleted.

use crate::chunk_store::{ChunkStore, StoreError};
use crate::global::{fetch_from_network, warn, without_query};
use crate::references::{unreferenced, KnownManifest};
use hearth_protocol::ModelManifest;
use wasm_bindgen::prelude::*;
use web_sys::{Request, RequestCache, Response, ResponseInit};

/// A manifest's text as a usable manifest, or why not.
pub fn parse(text: &str) -> Result<ModelManifest, String> {
    let manifest: ModelManifest =
        serde_json::from_str(text).map_err(|e| format!("not a model manifest: {e}"))?;
    manifest
        .validate()
        .map_err(|e| format!("invalid model manifest: {e}"))?;
    Ok(manifest)
}

/// The stored manifest at `url` (query ignored).
pub async fn known(store: &ChunkStore, url: &str) -> Result<Option<ModelManifest>, StoreError> {
    Ok(store
        .manifest(without_query(url))
        .await?
        .and_then(|text| parse(&text).ok()))
}

/// Every stored manifest.
pub async fn all_known(store: &ChunkStore) -> Result<Vec<KnownManifest>, StoreError> {
    Ok(store
        .manifests()
        .await?
        .into_iter()
        .filter_map(|(url, text)| {
            Some(KnownManifest {
                manifest: parse(&text).ok()?,
                url,
            })
        })
        .collect())
}

/// Answers a GET for a manifest.
pub async fn answer(request: &Request) -> Result<Response, JsValue> {
    let url = request.url();
    let key = without_query(&url).to_string();
    let fetched = match fetch_from_network(&url, RequestCache::NoCache).await {
        Ok(response) if response.ok() => match read_text(&response).await {
            Ok(text) => Ok((response, text)),
            Err(e) => Err(e),
        },
        Ok(response) if response.status() < 500 => return Ok(response),
        Ok(response) => Err(JsValue::from_str(&format!("HTTP {}", response.status()))),
        Err(e) => Err(e),
    };
    match fetched {
        Ok((response, text)) => {
            match parse(&text) {
                Ok(_) => {
                    if let Err(e) = remember(&key, &text).await {
                        warn(&format!("could not store the manifest {key}: {e}"));
                    }
                }
                Err(e) => warn(&format!("{key} is passed through unstored: {e}")),
            }
            same_response(&response, &text)
        }
        Err(network) => match stored_response(&key).await {
            Some(response) => Ok(response),
            None => Err(network),
        },
    }
}

async fn read_text(response: &Response) -> Result<String, JsValue> {
    let text = wasm_bindgen_futures::JsFuture::from(response.text()?).await?;
    text.as_string()
        .ok_or_else(|| JsValue::from_str("the body is not text"))
}

/// `text` with the original response's status and headers.
fn same_response(original: &Response, text: &str) -> Result<Response, JsValue> {
    let init = ResponseInit::new();
    init.set_status(original.status());
    init.set_headers(&original.headers());
    Response::new_with_opt_str_and_init(Some(text), &init)
}

async fn stored_response(key: &str) -> Option<Response> {
    let store = ChunkStore::open().await.ok()?;
    let text = store.manifest(key).await.ok()??;
    let init = ResponseInit::new();
    let headers = web_sys::Headers::new().ok()?;
    headers.set("content-type", "application/json").ok()?;
    init.set_headers(&headers);
    Response::new_with_opt_str_and_init(Some(&text), &init).ok()
}

/// Stores a valid manifest; when it replaces different content, deletes the chunks that only
/// the old content referenced.
async fn remember(key: &str, text: &str) -> Result<(), StoreError> {
    let store = ChunkStore::open().await?;
    let previous = store.manifest(key).await?;
    if previous.as_deref() == Some(text) {
        return Ok(());
    }
    store.put_manifest(key, text).await?;
    if previous.is_some() {
        let stale = unreferenced(&store.chunk_keys().await?, &all_known(&store).await?);
        if !stale.is_empty() {
            store.evict(None, &stale).await?;
            web_sys::console::info_1(&JsValue::from_str(&format!(
                "{key} changed: deleted {} chunks no model references",
                stale.len()
            )));
        }
    }
    Ok(())
}
