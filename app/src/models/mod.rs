//! Models: which exist (the catalog), loading one with its load screen, the model picker, the
//! stored models in settings, and opening a GGUF file from this device. The page announces
//! the model's readiness on `document.body.dataset.model` and a `hearth:model` window event.

pub mod advice;
pub mod progress;

#[cfg(target_arch = "wasm32")]
mod catalog;
#[cfg(target_arch = "wasm32")]
mod controller;
#[cfg(target_arch = "wasm32")]
mod load_screen;
#[cfg(target_arch = "wasm32")]
mod local_file;
#[cfg(target_arch = "wasm32")]
mod picker;
#[cfg(target_arch = "wasm32")]
pub mod readiness;
#[cfg(target_arch = "wasm32")]
mod storage_panel;

#[cfg(target_arch = "wasm32")]
pub use catalog::{cached_models, catalog, catalog_of, check_storage, deploy_config, ModelChoice};
#[cfg(target_arch = "wasm32")]
pub use controller::{engine_failed, loaded_by_script, start};
