//! The chat: conversations with the model, their storage, and the settings replies use.

pub mod conversation;
pub mod markdown;
pub mod settings;

#[cfg(target_arch = "wasm32")]
mod page;
#[cfg(target_arch = "wasm32")]
mod preferences;
#[cfg(target_arch = "wasm32")]
mod store;
#[cfg(target_arch = "wasm32")]
mod view;

#[cfg(target_arch = "wasm32")]
pub use preferences::import;

/// Whether a reply is being written.
#[cfg(target_arch = "wasm32")]
pub fn busy() -> bool {
    page::busy()
}

/// Shows the stored conversations and settings and wires the chat's controls.
#[cfg(target_arch = "wasm32")]
pub fn mount() {
    preferences::mount();
    page::mount();
}
