//! Which cached page answers a navigation, decided from the URL path alone so it can be
//! tested natively.

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
