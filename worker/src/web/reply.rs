//! Generating a reply to a conversation, streamed to the page token by token.

use super::backend::LoadedModel;
use super::errors::{session_error, Failure};
use super::{is_cancelled, post};
use crate::chat::{ChatDate, Message};
use crate::sampler::SamplerSettings;
use crate::session::{ChatSession, Flow};
use hearth_protocol::{ChatMessage, ErrorKind, FromWorker, GenerateSettings, GenerationStats};

pub async fn generate(
    id: u32,
    session: &mut ChatSession<LoadedModel>,
    messages: &[ChatMessage],
    settings: &GenerateSettings,
) -> Result<GenerationStats, Failure> {
    let sampler = SamplerSettings {
        temperature: settings.temperature,
        top_k: settings.top_k as usize,
        top_p: settings.top_p,
        repetition_penalty: settings.repetition_penalty,
        seed: settings.seed,
        ..SamplerSettings::default()
    };
    sampler
        .validate()
        .map_err(|e| Failure::new(ErrorKind::Other, e.to_string()))?;
    let messages: Vec<Message> = messages
        .iter()
        .map(|m| Message::new(m.role.clone(), m.content.clone()))
        .collect();
    let date = ChatDate::from_unix_seconds((js_sys::Date::now() / 1000.0) as i64);
    let max_tokens = settings.max_tokens as usize;
    let prompt = session
        .chat_prompt(&messages, date, max_tokens)
        .map_err(session_error)?;
    let now_ms = || js_sys::Date::now();
    let reply = session
        .generate(
            &prompt.ids,
            sampler,
            max_tokens,
            false,
            &now_ms,
            |token, text| {
                if !text.is_empty() {
                    post(&FromWorker::Token {
                        id,
                        token,
                        text: text.to_string(),
                    });
                }
                if is_cancelled(id) {
                    Flow::Stop
                } else {
                    Flow::Continue
                }
            },
        )
        .await
        .map_err(session_error)?;
    Ok(GenerationStats {
        prompt_tokens: reply.prompt_ids.len() as u32,
        reused_tokens: reply.reused_tokens as u32,
        dropped_messages: prompt.dropped_messages as u32,
        prompt_ids: reply.prompt_ids,
        ids: reply.ids,
        time_to_first_token_ms: reply.time_to_first_token_ms,
        prefill_tok_s: reply.prefill_tok_s,
        decode_tok_s: reply.decode_tok_s,
        stop: reply.stop,
    })
}
