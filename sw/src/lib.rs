//! Hearth's service worker. `public/sw.js` adds the event listeners synchronously (a service
//! worker must) and forwards each event to the functions exported here once the wasm is ready.
//!
//! It precaches the app shell listed in the build's asset list (verified by sha256), deletes
//! old shell caches at activate, answers the app shell from cache (so the app starts offline),
//! proxies model chunks through IndexedDB (verified before they are stored), keeps model
//! manifests and the files an offline start needs, and answers control messages from pages.
//!
//! The decisions (routes, chunk verification, which chunks are referenced) are plain Rust and
//! tested natively; the modules that touch browser APIs exist only on wasm32.

mod chunk_check;
mod integrity;
mod references;
mod routing;

#[cfg(target_arch = "wasm32")]
mod broadcast;
#[cfg(target_arch = "wasm32")]
mod browser;
#[cfg(target_arch = "wasm32")]
mod chunk_proxy;
#[cfg(target_arch = "wasm32")]
mod chunk_store;
#[cfg(target_arch = "wasm32")]
mod control;
#[cfg(target_arch = "wasm32")]
mod global;
#[cfg(target_arch = "wasm32")]
mod manifests;
#[cfg(target_arch = "wasm32")]
mod network_first;

pub use chunk_check::{failure_message, ChunkCheck, ChunkError, MAX_ATTEMPTS};
pub use integrity::{sha256_hex, verify, IntegrityError};
pub use references::{exclusive_chunks, model_status, referenced, unreferenced, KnownManifest};
pub use routing::{page_for_navigation, route, Route, FALLBACK_PAGE};
