//! The service worker's event handlers, exported to `public/sw.js`.

use crate::global::{error, scope, scope_url, wait};
use crate::routing::{page_for_navigation, route, Route, FALLBACK_PAGE};
use crate::{chunk_proxy, control, manifests, network_first, verify};
use hearth_protocol::assets::{shell_cache_name, ASSET_LIST_FILE, SHELL_CACHE_PREFIX};
use hearth_protocol::{AssetList, SwReply, SwRequest};
use js_sys::{Array, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    Cache, ExtendableMessageEvent, Request, RequestCache, RequestInit, RequestMode, Response,
    ResponseInit,
};

fn scope_path() -> Result<String, JsValue> {
    Ok(web_sys::Url::new(&scope_url())?.pathname())
}

async fn open_cache(version: &str) -> Result<Cache, JsValue> {
    let caches = scope().caches()?;
    wait::<Cache>(caches.open(&shell_cache_name(version))).await
}

/// Fetches from the network, bypassing the HTTP cache so an install never precaches a stale
/// file under a new version.
async fn fetch_fresh(url: &str) -> Result<Response, JsValue> {
    let init = RequestInit::new();
    init.set_cache(RequestCache::NoStore);
    let response: Response = wait(scope().fetch_with_str_and_init(url, &init)).await?;
    if !response.ok() {
        return Err(error(format!("{url}: HTTP {}", response.status())));
    }
    Ok(response)
}

async fn response_bytes(response: &Response) -> Result<Vec<u8>, JsValue> {
    let buffer = JsFuture::from(response.array_buffer()?).await?;
    Ok(Uint8Array::new(&buffer).to_vec())
}

/// A new response carrying `bytes` with the original's status and headers.
fn rebuild(original: &Response, bytes: &[u8]) -> Result<Response, JsValue> {
    let init = ResponseInit::new();
    init.set_status(original.status());
    init.set_headers(&original.headers());
    let body = Uint8Array::from(bytes);
    Response::new_with_opt_buffer_source_and_init(Some(&body), &init)
}

/// Precaches every asset of `version`, each verified against its sha256 before it is stored.
/// Any failure fails the install: the previous version stays in charge, nothing half-written
/// is used.
#[wasm_bindgen]
pub async fn on_install(version: String) -> Result<(), JsValue> {
    let base = scope_url();
    let list_response = fetch_fresh(&format!("{base}{ASSET_LIST_FILE}")).await?;
    let list_bytes = response_bytes(&list_response).await?;
    let list: AssetList = serde_json::from_slice(&list_bytes)
        .map_err(|e| error(format!("the asset list is malformed: {e}")))?;
    if list.version != version {
        return Err(error(format!(
            "the asset list is version {}, this service worker is {version}: a newer build was deployed mid-install",
            list.version
        )));
    }
    let caches = scope().caches()?;
    let cache_name = list.cache_name();
    let cache: Cache = wait(caches.open(&cache_name)).await?;
    let stored = precache(&cache, &base, &list).await;
    if let Err(e) = stored {
        // A partly filled cache of this version must not be mistaken for a complete one.
        let _ = JsFuture::from(caches.delete(&cache_name)).await;
        return Err(e);
    }
    let list_copy = rebuild(&list_response, &list_bytes)?;
    JsFuture::from(cache.put_with_str(&format!("{base}{ASSET_LIST_FILE}"), &list_copy)).await?;

    // The very first install takes over at once; an update waits until the page accepts it
    // (`SwRequest::SkipWaiting`), so open tabs never lose their files mid-run.
    if scope().registration().active().is_none() {
        JsFuture::from(scope().skip_waiting()?).await?;
    }
    Ok(())
}

async fn precache(cache: &Cache, base: &str, list: &AssetList) -> Result<(), JsValue> {
    for asset in &list.assets {
        let url = format!("{base}{}", asset.path);
        let response = fetch_fresh(&url).await?;
        let bytes = response_bytes(&response).await?;
        verify(&asset.path, &bytes, &asset.sha256).map_err(error)?;
        JsFuture::from(cache.put_with_str(&url, &rebuild(&response, &bytes)?)).await?;
    }
    Ok(())
}

/// Deletes the shell caches of other versions and takes control of open pages.
#[wasm_bindgen]
pub async fn on_activate(version: String) -> Result<(), JsValue> {
    let caches = scope().caches()?;
    let keep = shell_cache_name(&version);
    let names: Array = wait(caches.keys()).await?;
    for name in names.iter().filter_map(|n| n.as_string()) {
        if name.starts_with(SHELL_CACHE_PREFIX) && name != keep {
            JsFuture::from(caches.delete(&name)).await?;
        }
    }
    JsFuture::from(scope().clients().claim()).await?;
    Ok(())
}

/// Answers a GET: model manifests and chunks through IndexedDB, the config, catalog and
/// tokenizer files network first, shell files from the cache, navigations from the cached
/// pages (falling back to `index.html` offline), everything else from the network.
#[wasm_bindgen]
pub async fn on_fetch(request: Request, version: String) -> Result<Response, JsValue> {
    let url = request.url();
    match route(&url, &scope_url()) {
        Route::Manifest => return manifests::answer(&request).await,
        Route::Chunk { manifest_url, name } => {
            return chunk_proxy::answer(&request, &manifest_url, name).await
        }
        Route::NetworkFirst => return network_first::answer(&request).await,
        Route::Shell => {}
    }
    let cache = open_cache(&version).await?;
    if request.mode() == RequestMode::Navigate {
        let url = web_sys::Url::new(&request.url())?;
        if let Some(page) = page_for_navigation(&url.pathname(), &scope_path()?) {
            let base = scope_url();
            if let Some(hit) = cached(&cache, &format!("{base}{page}")).await? {
                return Ok(hit);
            }
            return match wait::<Response>(scope().fetch_with_request(&request)).await {
                Ok(response) => Ok(response),
                Err(offline) => cached(&cache, &format!("{base}{FALLBACK_PAGE}"))
                    .await?
                    .ok_or(offline),
            };
        }
    }
    let hit = JsFuture::from(cache.match_with_request(&request)).await?;
    if let Ok(response) = hit.dyn_into::<Response>() {
        return Ok(response);
    }
    wait(scope().fetch_with_request(&request)).await
}

async fn cached(cache: &Cache, url: &str) -> Result<Option<Response>, JsValue> {
    Ok(JsFuture::from(cache.match_with_str(url))
        .await?
        .dyn_into::<Response>()
        .ok())
}

/// Control messages from pages. The reply goes to the message's port when it has one, else
/// back to the sending client.
#[wasm_bindgen]
pub async fn on_message(event: ExtendableMessageEvent, version: String) -> Result<(), JsValue> {
    let reply = match serde_wasm_bindgen::from_value::<SwRequest>(event.data()) {
        Ok(SwRequest::GetVersion) => SwReply::Version { version },
        Ok(SwRequest::SkipWaiting) => {
            JsFuture::from(scope().skip_waiting()?).await?;
            return Ok(());
        }
        Ok(other) => control::reply(other).await,
        Err(e) => SwReply::Error {
            message: format!("unknown control message: {e}"),
        },
    };
    let value = serde_wasm_bindgen::to_value(&reply)?;
    let port = event.ports().get(0);
    if let Some(port) = port.dyn_ref::<web_sys::MessagePort>() {
        port.post_message(&value)?;
    } else if let Some(client) = event
        .source()
        .and_then(|s| s.dyn_into::<web_sys::Client>().ok())
    {
        client.post_message(&value)?;
    }
    Ok(())
}
