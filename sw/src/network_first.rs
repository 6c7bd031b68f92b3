//! Small files an offline start needs that change without a new app version: the deploy
//! config, the model catalog and tokenizer files. Network first (revalidating), so a deploy's
//! change is seen at once; the last good copy in Cache Storage answers when the network
//! fails. The cache is not versioned with the app shell, so an update activated offline
//! still knows its models.

use crate::global::{fetch_from_network, scope, wait, warn};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{Cache, Request, RequestCache, Response};

/// The Cache Storage cache of these files (no `hearth-shell-` prefix: activation keeps it).
pub const DATA_CACHE: &str = "hearth-data";

async fn cache() -> Result<Cache, JsValue> {
    wait(scope().caches()?.open(DATA_CACHE)).await
}

pub async fn answer(request: &Request) -> Result<Response, JsValue> {
    let url = request.url();
    let failure = match fetch_from_network(&url, RequestCache::NoCache).await {
        Ok(response) if response.ok() => {
            if let Err(e) = keep(&url, &response).await {
                warn(&format!("could not keep {url} for offline use: {e:?}"));
            }
            return Ok(response);
        }
        // The server answered: a missing file is missing.
        Ok(response) if response.status() < 500 => return Ok(response),
        Ok(response) => Ok(response),
        Err(e) => Err(e),
    };
    if let Some(hit) = cached(&url).await {
        return Ok(hit);
    }
    failure
}

async fn keep(url: &str, response: &Response) -> Result<(), JsValue> {
    let copy = response.clone()?;
    JsFuture::from(cache().await?.put_with_str(url, &copy)).await?;
    Ok(())
}

async fn cached(url: &str) -> Option<Response> {
    let hit = JsFuture::from(cache().await.ok()?.match_with_str(url))
        .await
        .ok()?;
    hit.dyn_into::<Response>().ok()
}
