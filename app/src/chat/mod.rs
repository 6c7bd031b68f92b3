//! The chat: conversations with the model, their storage, and the settings replies use.

pub mod conversation;
pub mod markdown;
pub mod settings;
