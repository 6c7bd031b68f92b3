//! How a request is answered, decided from its URL alone so it can be tested natively: which
//! cached page answers a navigation, and which requests are model files.

use hearth_protocol::config::CONFIG_FILE;
use hearth_protocol::manifest::{chunk_url_parts, is_manifest_url, CATALOG_FILE};

/// The path through the service worker that a GET takes.
#[derive(Debug, PartialEq, Eq)]
pub enum Route<'a> {
    /// A model manifest: network first, stored in IndexedDB when valid, the stored copy offline.
    Manifest,
    /// A model chunk, served from IndexedDB when its manifest is known.
    Chunk { manifest_url: String, name: &'a str },
    /// Small files an offline start needs that change without a new app version (the deploy
    /// config, the model catalog, tokenizer files): network first, Cache Storage offline.
    NetworkFirst,
    /// Everything else: the app shell from its cache, else the network.
    Shell,
}

/// Tokenizer files the worker may fetch beside a model.
pub const TOKENIZER_SUFFIX: &str = ".tiktoken";

/// The route of a GET for `url`; `scope_url` ends in `/`.
pub fn route<'a>(url: &'a str, scope_url: &str) -> Route<'a> {
    if is_manifest_url(url) {
        return Route::Manifest;
    }
    if let Some((manifest_url, name)) = chunk_url_parts(url) {
        return Route::Chunk { manifest_url, name };
    }
    let path = url.split(['?', '#']).next().unwrap_or(url);
    let file = path.rsplit('/').next().unwrap_or("");
    let is_config = path
        .strip_prefix(scope_url)
        .is_some_and(|rel| rel == CONFIG_FILE);
    if is_config
        || file == CATALOG_FILE
        || (file.len() > TOKENIZER_SUFFIX.len() && file.ends_with(TOKENIZER_SUFFIX))
    {
        return Route::NetworkFirst;
    }
    Route::Shell
}

/// The shell page (relative to the scope, as in the asset list) for a navigation to
/// `request_path`, or `None` when the path is outside the service worker's scope.
/// Directory paths mean their `index.html`.
pub fn page_for_navigation(request_path: &str, scope_path: &str) -> Option<String> {
    let rel = request_path.strip_prefix(scope_path)?;
    Some(if rel.is_empty() || rel.ends_with('/') {
        format!("{rel}index.html")
    } else {
        rel.to_string()
    })
}

/// The page any in-scope navigation falls back to offline when its own page is not cached.
pub const FALLBACK_PAGE: &str = "index.html";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_files_and_offline_metadata_have_their_routes() {
        let scope = "http://a:1/app/";
        assert_eq!(
            route("http://m:2/smol/net_metadata.json", scope),
            Route::Manifest
        );
        assert_eq!(
            route("http://m:2/smol/net_part4.gguf.chunk?v=1", scope),
            Route::Chunk {
                manifest_url: "http://m:2/smol/net_metadata.json".into(),
                name: "net_part4.gguf.chunk"
            }
        );
        for url in [
            "http://a:1/app/config.json",
            "http://a:1/app/config.json?x",
            "http://m:2/models.json",
            "http://a:1/app/models/models.json",
            "http://m:2/smol/llama3-2.tiktoken",
        ] {
            assert_eq!(route(url, scope), Route::NetworkFirst, "{url}");
        }
        for url in [
            "http://a:1/app/index.html",
            "http://a:1/app/sub/config.json",
            "http://a:1/other/config.json",
            "http://m:2/smol/.tiktoken",
            "http://m:2/smol/model.gguf",
        ] {
            assert_eq!(route(url, scope), Route::Shell, "{url}");
        }
    }

    #[test]
    fn navigations_map_to_pages_in_scope() {
        assert_eq!(page_for_navigation("/", "/").as_deref(), Some("index.html"));
        assert_eq!(
            page_for_navigation("/embed.html", "/").as_deref(),
            Some("embed.html")
        );
        assert_eq!(
            page_for_navigation("/docs/", "/").as_deref(),
            Some("docs/index.html")
        );
        assert_eq!(
            page_for_navigation("/hearth/", "/hearth/").as_deref(),
            Some("index.html")
        );
        assert_eq!(page_for_navigation("/other/", "/hearth/"), None);
    }
}
