//! The service worker's global scope and the small helpers every handler shares: awaiting
//! promises, network fetches that bypass or revalidate the HTTP cache, plain responses.

use js_sys::{Promise, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    RequestCache, RequestInit, RequestMode, Response, ResponseInit, ServiceWorkerGlobalScope,
};

pub fn scope() -> ServiceWorkerGlobalScope {
    js_sys::global().unchecked_into()
}

/// The scope URL, ending in `/`.
pub fn scope_url() -> String {
    scope().registration().scope()
}

pub async fn wait<T: JsCast>(promise: Promise) -> Result<T, JsValue> {
    JsFuture::from(promise).await?.dyn_into::<T>()
}

pub fn error(message: impl std::fmt::Display) -> JsValue {
    js_sys::Error::new(&message.to_string()).into()
}

/// A readable description of a thrown value (`TypeError: Failed to fetch`, a DOMException's
/// name and message, or the value itself).
pub fn describe(value: &JsValue) -> String {
    let field = |name: &str| {
        Reflect::get(value, &JsValue::from_str(name))
            .ok()
            .and_then(|v| v.as_string())
    };
    if value.is_object() {
        if let (Some(name), Some(message)) = (field("name"), field("message")) {
            return format!("{name}: {message}");
        }
    }
    value.as_string().unwrap_or_else(|| format!("{value:?}"))
}

/// The `name` of a thrown DOMException or Error, e.g. `QuotaExceededError`.
pub fn error_name(value: &JsValue) -> Option<String> {
    if !value.is_object() {
        return None;
    }
    Reflect::get(value, &JsValue::from_str("name"))
        .ok()?
        .as_string()
}

/// A GET of `url` from the service worker itself (which its own fetch handler never sees),
/// with CORS so model files on another origin can be read.
pub async fn fetch_from_network(url: &str, cache: RequestCache) -> Result<Response, JsValue> {
    let init = RequestInit::new();
    init.set_mode(RequestMode::Cors);
    init.set_cache(cache);
    wait(scope().fetch_with_str_and_init(url, &init)).await
}

/// The request sent to the network as it is (what a page would get without a service worker).
pub async fn pass_through(request: &web_sys::Request) -> Result<Response, JsValue> {
    wait(scope().fetch_with_request(request)).await
}

/// A text response, for errors the page should be able to read.
pub fn text_response(status: u16, body: &str) -> Result<Response, JsValue> {
    let init = ResponseInit::new();
    init.set_status(status);
    let headers = web_sys::Headers::new()?;
    headers.set("content-type", "text/plain; charset=utf-8")?;
    init.set_headers(&headers);
    Response::new_with_opt_str_and_init(Some(body), &init)
}

/// `url` without its query and fragment: the key of a stored manifest, as chunk URLs name it.
pub fn without_query(url: &str) -> &str {
    url.split(['?', '#']).next().unwrap_or(url)
}

pub fn warn(message: &str) {
    web_sys::console::warn_1(&JsValue::from_str(message));
}
