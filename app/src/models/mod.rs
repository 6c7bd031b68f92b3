//! Models: which exist (the catalog), loading one with its load screen, the model picker, the
//! stored models in settings, opening a GGUF file from this device, and where the model runs
//! (the GPU or the CPU, a setting). The page announces the model's readiness on
//! `document.body.dataset.model` and a `hearth:model` window event.

pub mod advice;
pub mod backend;
pub mod memory;
pub mod progress;

#[cfg(target_arch = "wasm32")]
mod backend_setting;
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
pub use backend_setting::current as backend_choice;
#[cfg(target_arch = "wasm32")]
pub use catalog::{cached_models, catalog, catalog_of, check_storage, deploy_config, ModelChoice};
#[cfg(target_arch = "wasm32")]
pub use controller::{engine_failed, forget_backend_setting, loaded_by_script, start};
