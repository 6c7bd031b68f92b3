//! Which models exist (the deploy config names the catalog) and whether one can be downloaded
//! here: the storage it still needs against what the browser grants this site.

use super::progress::megabytes;
use crate::dom::error_with_kind;
use crate::service_worker;
use hearth_protocol::{
    CachedModel, DeployConfig, ErrorKind, ModelCatalog, ModelManifest, SwReply, SwRequest,
};
use serde::Serialize;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

/// A catalog entry with its manifest's absolute URL.
#[derive(Debug, Clone, Serialize)]
pub struct ModelChoice {
    pub id: String,
    pub manifest_url: String,
    pub model: hearth_protocol::ModelFacts,
    /// Download size in bytes.
    pub size: u64,
}

fn window() -> Result<web_sys::Window, JsValue> {
    web_sys::window().ok_or_else(|| "no window".into())
}

async fn fetch_json<T: serde::de::DeserializeOwned>(url: &str, what: &str) -> Result<T, JsValue> {
    let response: web_sys::Response = JsFuture::from(window()?.fetch_with_str(url))
        .await
        .map_err(|_| {
            error_with_kind(
                &format!("could not download {what} (offline?)"),
                ErrorKind::Network,
            )
        })?
        .unchecked_into();
    if !response.ok() {
        return Err(error_with_kind(
            &format!("downloading {what} failed: HTTP {}", response.status()),
            ErrorKind::Network,
        ));
    }
    let text = JsFuture::from(response.text()?).await?;
    serde_json::from_str(&text.as_string().unwrap_or_default())
        .map_err(|e| error_with_kind(&format!("{what} is not valid: {e}"), ErrorKind::Model))
}

fn resolve(relative: &str, base: &str) -> Result<String, JsValue> {
    Ok(web_sys::Url::new_with_base(relative, base)?.href())
}

/// The deployment's configuration (`config.json` beside the page).
pub async fn deploy_config() -> Result<DeployConfig, JsValue> {
    let page = window()?.location().href()?;
    let config_url = resolve(hearth_protocol::config::CONFIG_FILE, &page)?;
    fetch_json(&config_url, "the app's configuration").await
}

/// The models the deployment offers, first one the default.
pub async fn catalog() -> Result<Vec<ModelChoice>, JsValue> {
    catalog_of(&deploy_config().await?).await
}

/// The models `config` names.
pub async fn catalog_of(config: &DeployConfig) -> Result<Vec<ModelChoice>, JsValue> {
    let page = window()?.location().href()?;
    let base = if config.model_base_url.is_empty() {
        resolve("models/", &page)?
    } else {
        resolve(&config.model_base_url, &page)?
    };
    let catalog_url = resolve(&config.model_catalog, &base)?;
    let catalog: ModelCatalog = fetch_json(&catalog_url, "the model catalog").await?;
    catalog.validate().map_err(|e| {
        error_with_kind(
            &format!("the model catalog cannot be used: {e}"),
            ErrorKind::Model,
        )
    })?;
    catalog
        .models
        .into_iter()
        .map(|entry| {
            Ok(ModelChoice {
                manifest_url: resolve(&entry.manifest, &catalog_url)?,
                id: entry.id,
                model: entry.model,
                size: entry.size,
            })
        })
        .collect()
}

/// What the service worker has stored of each known model (empty without a service worker).
pub async fn cached_models() -> Vec<CachedModel> {
    match service_worker::ask(&SwRequest::CacheStatus).await {
        Ok(SwReply::CacheStatus { models }) => models,
        _ => Vec::new(),
    }
}

/// The site's (usage, quota) in bytes, as the browser estimates them (0 where it does not say).
pub async fn storage_estimate(storage: &web_sys::StorageManager) -> Result<(u64, u64), JsValue> {
    let estimate = JsFuture::from(storage.estimate()?).await?;
    let read = |key: &str| {
        js_sys::Reflect::get(&estimate, &key.into())
            .ok()
            .and_then(|v| v.as_f64())
            .unwrap_or(0.0) as u64
    };
    Ok((read("usage"), read("quota")))
}

/// Refuses a download that cannot fit the site's storage quota (with the numbers), before a
/// byte is fetched; then asks the browser to keep the site's storage persistent.
pub async fn check_storage(manifest_url: &str) -> Result<(), JsValue> {
    let manifest: ModelManifest = fetch_json(manifest_url, "the model's manifest").await?;
    let stored = cached_models()
        .await
        .into_iter()
        .find(|m| m.manifest_url == manifest_url)
        .map_or(0, |m| m.bytes_stored);
    let needed = manifest.file.size.saturating_sub(stored);
    let storage = window()?.navigator().storage();
    if needed > 0 {
        let (usage, quota) = storage_estimate(&storage).await?;
        let free = quota.saturating_sub(usage);
        if quota > 0 && free < needed {
            return Err(error_with_kind(
                &format!(
                    "Not enough storage for {}: it needs {} more, but this browser lets this site store only {} more ({} used of {}). Free up disk space or delete other models, then try again.",
                    manifest.model.name,
                    megabytes(needed),
                    megabytes(free),
                    megabytes(usage),
                    megabytes(quota)
                ),
                ErrorKind::Storage,
            ));
        }
    }
    // Best effort: without it the browser may evict the model under storage pressure.
    if let Ok(p) = storage.persist() {
        if let Err(e) = JsFuture::from(p).await {
            web_sys::console::warn_2(&"persistent storage was not granted".into(), &e);
        }
    }
    Ok(())
}
