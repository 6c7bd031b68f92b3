//! Hearth's service worker. `public/sw.js` adds the event listeners synchronously (a service
//! worker must) and forwards each event to the functions exported here once the wasm is ready.
//!
//! It precaches the app shell listed in the build's asset list (verified by sha256), deletes
//! old shell caches at activate, answers the app shell from cache (so the app starts offline),
//! and answers control messages from pages.

mod integrity;
mod routing;

#[cfg(target_arch = "wasm32")]
mod browser;

pub use integrity::{sha256_hex, verify, IntegrityError};
pub use routing::{page_for_navigation, FALLBACK_PAGE};
