//! [`ChatSession`]: prompt building, the sampling loop and KV-cache reuse between turns.

use super::prompt::{chat_prompt, ChatPrompt};
use super::LanguageModel;
use crate::chat::{ChatDate, ChatError, Message};
use crate::engine::EngineError;
use crate::sampler::{Sampler, SamplerError, SamplerSettings};
use crate::tokenizer::{Tokenizer, TokenizerError};
use hearth_protocol::StopReason;

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Chat(#[from] ChatError),
    #[error(transparent)]
    Sampler(#[from] SamplerError),
    #[error(transparent)]
    Tokenizer(#[from] TokenizerError),
    #[error("the prompt has no tokens")]
    EmptyPrompt,
    #[error(
        "the prompt needs {needed} tokens, but the context window holds {capacity} \
         (shorten the message or the system prompt)"
    )]
    PromptTooLong { needed: usize, capacity: usize },
}

/// What the caller wants after a piece of text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flow {
    Continue,
    Stop,
}

/// One generated reply (`cargo xtask generate --json` prints it).
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Reply {
    pub prompt_ids: Vec<u32>,
    /// Generated ids, the end-of-generation token included when one ended the reply.
    pub ids: Vec<u32>,
    /// The reply's text (without the end-of-generation token's).
    pub text: String,
    /// Prompt tokens whose KV cache was kept from before.
    pub reused_tokens: usize,
    /// Per generated token, how far the best candidate's logit was above the second's (an
    /// exact tie flips on rounding; tests compare ids only up to a close call).
    pub margins: Vec<f32>,
    pub stop: StopReason,
    pub time_to_first_token_ms: f64,
    pub prefill_tok_s: f64,
    pub decode_tok_s: f64,
}

/// A model with its tokenizer and chat template, remembering which tokens its KV cache holds.
pub struct ChatSession<M> {
    model: M,
    tokenizer: Tokenizer,
    /// Ids whose keys and values the model's cache holds, from position 0.
    cached: Vec<u32>,
}

impl<M: LanguageModel> ChatSession<M> {
    pub fn new(model: M, tokenizer: Tokenizer) -> Self {
        Self {
            model,
            tokenizer,
            cached: Vec::new(),
        }
    }

    pub fn model(&self) -> &M {
        &self.model
    }

    pub fn tokenizer(&self) -> &Tokenizer {
        &self.tokenizer
    }

    /// Tokens whose KV cache is kept for the next turn.
    pub fn cached_tokens(&self) -> &[u32] {
        &self.cached
    }

    /// The ids of a chat that fits this model's context window with room for `reserve` new
    /// tokens (see [`chat_prompt`]).
    pub fn chat_prompt(
        &self,
        messages: &[Message],
        date: ChatDate,
        reserve: usize,
    ) -> Result<ChatPrompt, SessionError> {
        chat_prompt(
            &self.tokenizer,
            messages,
            date,
            self.model.capacity(),
            reserve,
        )
    }

    /// Generates a reply to `prompt_ids`: at most `max_tokens` (and what the context window
    /// leaves), stopping at an end-of-generation token unless `ignore_eos`. `on_text` gets
    /// each piece of text as soon as it is whole UTF-8, with the token that completed it, and
    /// may stop the reply. `now_ms` is a monotonic clock.
    pub async fn generate(
        &mut self,
        prompt_ids: &[u32],
        settings: SamplerSettings,
        max_tokens: usize,
        ignore_eos: bool,
        now_ms: &dyn Fn() -> f64,
        mut on_text: impl FnMut(u32, &str) -> Flow,
    ) -> Result<Reply, SessionError> {
        if prompt_ids.is_empty() {
            return Err(SessionError::EmptyPrompt);
        }
        let capacity = self.model.capacity();
        if prompt_ids.len() >= capacity {
            return Err(SessionError::PromptTooLong {
                needed: prompt_ids.len() + 1,
                capacity,
            });
        }
        let mut sampler = Sampler::new(settings)?;
        sampler.observe(prompt_ids);
        let k = self.candidates_needed(&settings);

        // The last prompt token always runs: its logits choose the first new token.
        let common = self
            .cached
            .iter()
            .zip(prompt_ids)
            .take_while(|(a, b)| a == b)
            .count();
        let reused = common.min(prompt_ids.len() - 1);
        let started = now_ms();
        self.cached.clear();
        let mut candidates = self.model.forward(&prompt_ids[reused..], reused, k).await?;
        self.cached = prompt_ids.to_vec();
        let first_token_ms = now_ms() - started;

        let room = capacity - prompt_ids.len();
        let limit = max_tokens.min(room);
        let mut ids = Vec::new();
        let mut margins = Vec::new();
        let mut text = String::new();
        let mut stream = self.tokenizer.stream_decoder();
        let decode_start = now_ms();
        let mut decoded = 0usize;
        let stop = loop {
            if ids.len() >= limit {
                break if limit < max_tokens {
                    StopReason::ContextFull
                } else {
                    StopReason::MaxTokens
                };
            }
            let id = sampler.sample(&candidates);
            ids.push(id);
            margins.push(match candidates.logits[..] {
                [best, second, ..] => best - second,
                _ => f32::INFINITY,
            });
            if self.tokenizer.is_end_of_generation(id) && !ignore_eos {
                break StopReason::EndOfGeneration;
            }
            let piece = stream.push(id)?;
            text.push_str(&piece);
            if on_text(id, &piece) == Flow::Stop {
                break StopReason::Cancelled;
            }
            if ids.len() >= limit {
                continue;
            }
            let pos = self.cached.len();
            candidates = self.model.forward(&[id], pos, k).await?;
            self.cached.push(id);
            decoded += 1;
        };
        let rest = stream.finish();
        if !rest.is_empty() {
            text.push_str(&rest);
            on_text(*ids.last().unwrap_or(&0), &rest);
        }
        let decode_ms = now_ms() - decode_start;
        let computed = prompt_ids.len() - reused;
        Ok(Reply {
            prompt_ids: prompt_ids.to_vec(),
            ids,
            text,
            reused_tokens: reused,
            margins,
            stop,
            time_to_first_token_ms: first_token_ms,
            prefill_tok_s: computed as f64 * 1000.0 / first_token_ms.max(1e-6),
            decode_tok_s: if decoded == 0 {
                0.0
            } else {
                decoded as f64 * 1000.0 / decode_ms.max(1e-6)
            },
        })
    }

    /// Candidates a step must hand the sampler: the best two when greedy (the second tells
    /// how close the call was); otherwise enough
    /// for top-k (all the model can give when top-k is off), with the exact normaliser.
    fn candidates_needed(&self, settings: &SamplerSettings) -> usize {
        let vocab = self.model.vocab_size();
        let k = if settings.temperature <= 0.0 {
            2
        } else if settings.top_k == 0 {
            vocab
        } else {
            settings.top_k.max(40).min(vocab)
        };
        k.min(self.model.max_k())
    }
}
