//! Control messages from pages: what is stored, the storage estimate, evictions. Each request
//! gets one reply; failures are replies too (`SwReply::Error`), never a silent drop.

use crate::chunk_store::{ChunkStore, StoreError};
use crate::global::{scope, wait, without_query};
use crate::manifests::all_known;
use crate::references::{exclusive_chunks, model_status, unreferenced};
use hearth_protocol::{SwReply, SwRequest};
use js_sys::{Object, Reflect};
use wasm_bindgen::prelude::*;

/// The reply to a request other than `GetVersion` and `SkipWaiting` (which `browser` handles).
pub async fn reply(request: SwRequest) -> SwReply {
    let result = match request {
        SwRequest::CacheStatus => cache_status().await,
        SwRequest::StorageEstimate => storage_estimate().await,
        SwRequest::EvictModel { manifest_url } => evict_model(&manifest_url).await,
        SwRequest::EvictUnreferenced => evict_unreferenced().await,
        SwRequest::EvictAll => evict_all().await,
        other => Err(format!("{other:?} is not a storage request")),
    };
    result.unwrap_or_else(|message| SwReply::Error { message })
}

fn failed(e: StoreError) -> String {
    e.to_string()
}

async fn cache_status() -> Result<SwReply, String> {
    let store = ChunkStore::open().await.map_err(failed)?;
    let stored = store.chunk_keys().await.map_err(failed)?;
    let models = all_known(&store)
        .await
        .map_err(failed)?
        .iter()
        .map(|known| model_status(known, &stored))
        .collect();
    Ok(SwReply::CacheStatus { models })
}

async fn storage_estimate() -> Result<SwReply, String> {
    let estimate = async {
        let promise = scope().navigator().storage().estimate()?;
        let estimate: Object = wait(promise).await?;
        let number = |k: &str| {
            Reflect::get(&estimate, &JsValue::from_str(k))
                .ok()
                .and_then(|v| v.as_f64())
                .unwrap_or(0.0) as u64
        };
        Ok::<_, JsValue>(SwReply::StorageEstimate {
            usage: number("usage"),
            quota: number("quota"),
        })
    };
    estimate
        .await
        .map_err(|e| format!("storage estimate failed: {}", crate::global::describe(&e)))
}

async fn evict_model(manifest_url: &str) -> Result<SwReply, String> {
    let key = without_query(manifest_url);
    let store = ChunkStore::open().await.map_err(failed)?;
    let (evicted, others): (Vec<_>, Vec<_>) = all_known(&store)
        .await
        .map_err(failed)?
        .into_iter()
        .partition(|known| known.url == key);
    let Some(evicted) = evicted.into_iter().next() else {
        return Err(format!("no known model has the manifest {key}"));
    };
    let stored = store.chunk_keys().await.map_err(failed)?;
    let chunks: Vec<(String, u64)> = exclusive_chunks(&evicted.manifest, &others)
        .into_iter()
        .filter(|(h, _)| stored.contains(h))
        .collect();
    let hashes: Vec<String> = chunks.iter().map(|(h, _)| h.clone()).collect();
    store.evict(Some(key), &hashes).await.map_err(failed)?;
    Ok(SwReply::Evicted {
        chunks: chunks.len() as u32,
        bytes: chunks.iter().map(|(_, size)| size).sum(),
    })
}

async fn evict_unreferenced() -> Result<SwReply, String> {
    let store = ChunkStore::open().await.map_err(failed)?;
    let known = all_known(&store).await.map_err(failed)?;
    let orphans = unreferenced(&store.chunk_keys().await.map_err(failed)?, &known);
    let sizes = store.chunk_sizes(&orphans).await.map_err(failed)?;
    store.evict(None, &orphans).await.map_err(failed)?;
    Ok(SwReply::Evicted {
        chunks: sizes.len() as u32,
        bytes: sizes.iter().map(|(_, size)| size).sum(),
    })
}

async fn evict_all() -> Result<SwReply, String> {
    let store = ChunkStore::open().await.map_err(failed)?;
    let chunks: Vec<String> = store
        .chunk_keys()
        .await
        .map_err(failed)?
        .into_iter()
        .collect();
    let sizes = store.chunk_sizes(&chunks).await.map_err(failed)?;
    store.clear().await.map_err(failed)?;
    Ok(SwReply::Evicted {
        chunks: sizes.len() as u32,
        bytes: sizes.iter().map(|(_, size)| size).sum(),
    })
}
