//! A conversation with a loaded model: chat messages rendered by the model's template and
//! tokenized, the reply sampled token by token and streamed as text, and the KV cache of the
//! prefix the new prompt shares with what the model already saw kept between turns. The same
//! loop runs the browser worker and `cargo xtask generate`, on either backend.

mod chat_session;
mod language_model;
mod prompt;

pub use chat_session::{ChatSession, Flow, Reply, SessionError};
pub use language_model::LanguageModel;
pub use prompt::{chat_prompt, raw_prompt, ChatPrompt};
