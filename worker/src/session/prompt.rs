//! Prompt ids from a chat or a raw text.

use super::SessionError;
use crate::chat::{ChatDate, ChatTemplate, Message, RenderOptions};
use crate::tokenizer::Tokenizer;

/// A chat rendered and tokenized.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChatPrompt {
    pub ids: Vec<u32>,
    /// Oldest messages left out so that it fits.
    pub dropped_messages: usize,
}

/// The ids of a chat rendered by the model's template, ending with the assistant's header.
/// When it does not fit `capacity` positions with room for `reserve` new tokens (at most half
/// the window is reserved), the oldest turns after the leading system messages are dropped,
/// a whole exchange at a time; the last message is always kept. BOS comes from the template
/// or the vocabulary's `add_bos`, never both.
pub fn chat_prompt(
    tokenizer: &Tokenizer,
    messages: &[Message],
    date: ChatDate,
    capacity: usize,
    reserve: usize,
) -> Result<ChatPrompt, SessionError> {
    let template = ChatTemplate::for_tokenizer(tokenizer)?;
    let options = RenderOptions {
        add_generation_prompt: true,
        date,
    };
    let system = messages.iter().take_while(|m| m.role == "system").count();
    let mut dropped = 0;
    loop {
        let kept: Vec<Message> = messages[..system]
            .iter()
            .chain(&messages[system + dropped..])
            .cloned()
            .collect();
        let rendered = template.render_prompt(&kept, &options, tokenizer)?;
        let ids = tokenizer.encode_prompt(&rendered);
        let fits = ids.len() + reserve.min(capacity / 2) <= capacity;
        let left = messages.len() - (system + dropped);
        if fits || left <= 1 {
            if ids.len() >= capacity {
                return Err(SessionError::PromptTooLong {
                    needed: ids.len() + 1,
                    capacity,
                });
            }
            return Ok(ChatPrompt {
                ids,
                dropped_messages: dropped,
            });
        }
        dropped += if left > 2 { 2 } else { 1 };
    }
}

/// The ids of `text` as it is (special-token text recognised), with BOS when the vocabulary
/// asks for one.
pub fn raw_prompt(tokenizer: &Tokenizer, text: &str) -> Vec<u32> {
    let mut ids = tokenizer.encode_with_specials(text);
    if let Some(bos) = tokenizer.bos_token() {
        if tokenizer.adds_bos() && ids.first() != Some(&bos) {
            ids.insert(0, bos);
        }
    }
    ids
}
