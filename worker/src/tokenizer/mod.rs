//! Text to token ids and back.
//!
//! Two sources of vocabulary:
//! - a `.tiktoken` rank file (Llama 3's `tokenizer.model` is one): tiktoken-rs's `CoreBPE`,
//!   built with [`CoreBPE::new`] from the file's ranks (never its embedded vocabularies);
//! - GGUF metadata (`tokenizer.ggml.model = gpt2`): llama.cpp's algorithm, i.e. its
//!   pre-tokenizer scanners ([`pretokenizer`]) and merge-ranked BPE ([`bpe`]), which CoreBPE's
//!   single regex and rank-by-token-id cannot reproduce for every vocabulary (`smollm` splits
//!   digits first; GGUF vocabularies are ranked by merges).
//!
//! Text a user typed is encoded with [`Tokenizer::encode`]: it never becomes a control token.
//! A rendered chat template goes through [`Tokenizer::encode_prompt`], which recognises the
//! template's special tokens but keeps message contents plain (see [`crate::chat`]).

pub mod bpe;
pub mod gguf_vocab;
mod hf_json;
pub mod pretokenizer;
pub mod special;
pub mod stream;
pub mod tiktoken_file;

use rustc_hash::FxHashMap;
use special::{Fragment, SpecialMatcher};
use stream::Utf8Stream;
use tiktoken_rs::CoreBPE;

pub type TokenId = u32;

#[derive(Debug, thiserror::Error)]
pub enum TokenizerError {
    #[error("malformed tokenizer data: {0}")]
    Malformed(String),
    #[error("unsupported tokenizer: {0}")]
    Unsupported(String),
    #[error("token id {0} is not in the vocabulary")]
    UnknownToken(TokenId),
}

enum Engine {
    Tiktoken(Box<CoreBPE>),
    Merges(Box<bpe::MergeBpe>),
}

/// A vocabulary plus the rules to split text with it.
pub struct Tokenizer {
    engine: Engine,
    /// Each id's bytes (special tokens: their text). `None` where the id is unused.
    pieces: Vec<Option<Box<[u8]>>>,
    /// Control and user-defined tokens: recognised in rendered templates.
    specials: SpecialMatcher,
    /// Tokens recognised even in plain text: GGUF user-defined tokens (llama.cpp splits them
    /// out before pre-tokenizing whatever `parse_special` says). Never control tokens.
    plain_specials: SpecialMatcher,
    bos: Option<TokenId>,
    eos: Option<TokenId>,
    end_of_generation: Vec<TokenId>,
    add_bos: bool,
    chat_template: Option<String>,
}

impl std::fmt::Debug for Tokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokenizer")
            .field("vocab_size", &self.pieces.len())
            .field("bos", &self.bos)
            .field("eos", &self.eos)
            .field("add_bos", &self.add_bos)
            .finish_non_exhaustive()
    }
}

impl Tokenizer {
    /// A tokenizer from `.tiktoken` rank data, the special tokens that follow the ranks, and
    /// the pre-tokenizer regex.
    pub fn from_tiktoken(
        data: &[u8],
        specials: &[(String, TokenId)],
        pattern: &str,
    ) -> Result<Self, TokenizerError> {
        let ranks = tiktoken_file::parse_ranks(data)?;
        let mut pieces: Vec<Option<Box<[u8]>>> = Vec::new();
        let mut place = |id: TokenId, bytes: &[u8]| -> Result<(), TokenizerError> {
            let id = id as usize;
            if id >= tiktoken_file::MAX_RANK as usize {
                return Err(TokenizerError::Malformed(format!(
                    "token id {id} is too large"
                )));
            }
            if pieces.len() <= id {
                pieces.resize(id + 1, None);
            }
            if pieces[id].is_some() {
                return Err(TokenizerError::Malformed(format!(
                    "special token id {id} is already a rank"
                )));
            }
            pieces[id] = Some(bytes.into());
            Ok(())
        };
        for (bytes, rank) in &ranks {
            place(*rank, bytes)?;
        }
        for (text, id) in specials {
            place(*id, text.as_bytes())?;
        }
        let encoder: FxHashMap<Vec<u8>, TokenId> = ranks.into_iter().collect();
        // CoreBPE is only asked for ordinary text: special tokens are split out before it.
        let core = CoreBPE::new(encoder, FxHashMap::default(), pattern)
            .map_err(|e| TokenizerError::Malformed(format!("pre-tokenizer pattern: {e}")))?;
        Ok(Tokenizer {
            engine: Engine::Tiktoken(Box::new(core)),
            pieces,
            specials: SpecialMatcher::new(specials.iter().cloned()),
            plain_specials: SpecialMatcher::default(),
            bos: None,
            eos: None,
            end_of_generation: Vec::new(),
            add_bos: false,
            chat_template: None,
        })
    }

    /// Llama 3.x from its `tokenizer.model` (or the same ranks as `.tiktoken`): Meta's pattern
    /// and special tokens, BOS `<|begin_of_text|>` added, ends of generation `<|eot_id|>`,
    /// `<|eom_id|>` and `<|end_of_text|>`.
    pub fn llama3_from_tiktoken(data: &[u8]) -> Result<Self, TokenizerError> {
        let specials = tiktoken_file::llama3_special_tokens();
        let mut t = Self::from_tiktoken(data, &specials, tiktoken_file::LLAMA3_PATTERN)?;
        let id = |name: &str| t.specials.id_of(name);
        t.bos = id("<|begin_of_text|>");
        t.eos = id("<|end_of_text|>");
        t.end_of_generation = ["<|eot_id|>", "<|eom_id|>", "<|end_of_text|>"]
            .iter()
            .filter_map(|n| id(n))
            .collect();
        t.add_bos = true;
        Ok(t)
    }

    /// Number of ids (the model's vocabulary size).
    pub fn vocab_size(&self) -> usize {
        self.pieces.len()
    }

    pub fn bos_token(&self) -> Option<TokenId> {
        self.bos
    }

    pub fn eos_token(&self) -> Option<TokenId> {
        self.eos
    }

    /// Whether a prompt should start with BOS (GGUF `tokenizer.ggml.add_bos_token`).
    pub fn adds_bos(&self) -> bool {
        self.add_bos && self.bos.is_some()
    }

    /// Tokens that end a reply.
    pub fn end_of_generation(&self) -> &[TokenId] {
        &self.end_of_generation
    }

    pub fn is_end_of_generation(&self, id: TokenId) -> bool {
        self.end_of_generation.contains(&id)
    }

    /// The chat template the vocabulary came with (GGUF `tokenizer.chat_template`).
    pub fn chat_template(&self) -> Option<&str> {
        self.chat_template.as_deref()
    }

    /// The id of a special token's text.
    pub fn special_token_id(&self, text: &str) -> Option<TokenId> {
        self.specials.id_of(text)
    }

    /// Every special token's text (for keeping user text from forming one).
    pub fn special_token_texts(&self) -> impl Iterator<Item = &str> {
        self.specials.texts()
    }

    /// Text a person typed: no BOS, and no control token can come out of it.
    pub fn encode(&self, text: &str) -> Vec<TokenId> {
        let mut out = Vec::new();
        self.encode_split(text, &self.plain_specials, &mut out);
        out
    }

    /// Text whose special-token strings are meant as special tokens (a rendered template), as
    /// llama.cpp's `parse_special`. No BOS is added.
    pub fn encode_with_specials(&self, text: &str) -> Vec<TokenId> {
        let mut out = Vec::new();
        self.encode_split(text, &self.specials, &mut out);
        out
    }

    /// A rendered chat prompt: the template's own text with special tokens recognised, the
    /// messages' contents as plain text. BOS is put first when the vocabulary wants one and
    /// the template has not written it already.
    pub fn encode_prompt(&self, prompt: &crate::chat::RenderedPrompt) -> Vec<TokenId> {
        let mut out = Vec::new();
        for fragment in self.specials.split(prompt.guarded_text()) {
            match fragment {
                Fragment::Special(id) => out.push(id),
                Fragment::Text(text) => {
                    self.encode_split(&prompt.restore(text), &self.plain_specials, &mut out)
                }
            }
        }
        if let Some(bos) = self.bos {
            if self.add_bos && out.first() != Some(&bos) {
                out.insert(0, bos);
            }
        }
        out
    }

    fn encode_split(&self, text: &str, specials: &SpecialMatcher, out: &mut Vec<TokenId>) {
        if specials.is_empty() {
            self.encode_ordinary(text, out);
            return;
        }
        for fragment in specials.split(text) {
            match fragment {
                Fragment::Text(t) => self.encode_ordinary(t, out),
                Fragment::Special(id) => out.push(id),
            }
        }
    }

    fn encode_ordinary(&self, text: &str, out: &mut Vec<TokenId>) {
        match &self.engine {
            Engine::Tiktoken(core) => out.extend(core.encode_ordinary(text)),
            Engine::Merges(bpe) => bpe.encode(text, out),
        }
    }

    /// The bytes of one token.
    pub fn token_bytes(&self, id: TokenId) -> Result<&[u8], TokenizerError> {
        self.pieces
            .get(id as usize)
            .and_then(|p| p.as_deref())
            .ok_or(TokenizerError::UnknownToken(id))
    }

    pub fn decode_bytes(&self, ids: &[TokenId]) -> Result<Vec<u8>, TokenizerError> {
        let mut out = Vec::new();
        for &id in ids {
            out.extend_from_slice(self.token_bytes(id)?);
        }
        Ok(out)
    }

    /// Ids to text; special tokens come out as their text, bytes that are not UTF-8 as U+FFFD.
    pub fn decode(&self, ids: &[TokenId]) -> Result<String, TokenizerError> {
        Ok(String::from_utf8_lossy(&self.decode_bytes(ids)?).into_owned())
    }

    /// A decoder for tokens arriving one at a time.
    pub fn stream_decoder(&self) -> TokenStream<'_> {
        TokenStream {
            tokenizer: self,
            utf8: Utf8Stream::new(),
        }
    }
}

/// Decodes generated tokens as they come, never emitting half a UTF-8 character.
pub struct TokenStream<'a> {
    tokenizer: &'a Tokenizer,
    utf8: Utf8Stream,
}

impl TokenStream<'_> {
    /// The text that this token completes (possibly empty).
    pub fn push(&mut self, id: TokenId) -> Result<String, TokenizerError> {
        let bytes = self.tokenizer.token_bytes(id)?;
        Ok(self.utf8.push(bytes))
    }

    /// Whatever is held back, at the end of the reply.
    pub fn finish(&mut self) -> String {
        self.utf8.finish()
    }
}
