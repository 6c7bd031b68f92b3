//! Hearth's page: a thin UI thread. It registers the service worker, starts the engine worker
//! once the service worker controls the page (so every engine fetch goes through the cache),
//! and renders what the engine reports. No model logic lives here.

#[cfg(target_arch = "wasm32")]
mod browser;
#[cfg(target_arch = "wasm32")]
mod dom;
#[cfg(target_arch = "wasm32")]
mod embed;
#[cfg(target_arch = "wasm32")]
mod engine;
#[cfg(target_arch = "wasm32")]
mod engine_owner;
#[cfg(target_arch = "wasm32")]
mod pwa;
#[cfg(target_arch = "wasm32")]
mod service_worker;

pub mod chat;
pub mod describe;
pub mod models;
