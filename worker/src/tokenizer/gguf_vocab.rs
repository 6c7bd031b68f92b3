//! A tokenizer from GGUF metadata (`tokenizer.ggml.*`), for `gpt2`-type (byte-level BPE)
//! vocabularies, loaded the way llama.cpp's `llama_vocab::load` does.

use super::bpe::{self, MergeBpe, MergeRule};
use super::pretokenizer::PreTokenizer;
use super::special::SpecialMatcher;
use super::tiktoken_file::MAX_RANK;
use super::{Engine, TokenId, Tokenizer, TokenizerError};
use crate::gguf::{GgufHeader, MetadataValue};
use rustc_hash::{FxHashMap, FxHashSet};

/// GGUF token types (`tokenizer.ggml.token_type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenType {
    Normal,
    Unknown,
    Control,
    UserDefined,
    Unused,
    Byte,
    Undefined,
}

impl TokenType {
    pub fn from_gguf(v: i64) -> TokenType {
        match v {
            1 => TokenType::Normal,
            2 => TokenType::Unknown,
            3 => TokenType::Control,
            4 => TokenType::UserDefined,
            5 => TokenType::Unused,
            6 => TokenType::Byte,
            _ => TokenType::Undefined,
        }
    }

    pub fn to_gguf(self) -> i32 {
        match self {
            TokenType::Normal => 1,
            TokenType::Unknown => 2,
            TokenType::Control => 3,
            TokenType::UserDefined => 4,
            TokenType::Unused => 5,
            TokenType::Byte => 6,
            TokenType::Undefined => 0,
        }
    }
}

/// The tokenizer part of a GGUF file's metadata.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct GgufVocab {
    /// `tokenizer.ggml.model` (only `gpt2` is supported).
    pub model: String,
    /// `tokenizer.ggml.pre`.
    pub pre: Option<String>,
    pub tokens: Vec<String>,
    /// One per token; all `Normal` when the file has none.
    pub token_types: Vec<TokenType>,
    /// `"left right"` pairs in rank order.
    pub merges: Vec<String>,
    pub bos: Option<TokenId>,
    pub eos: Option<TokenId>,
    pub eot: Option<TokenId>,
    pub eom: Option<TokenId>,
    pub add_bos: Option<bool>,
    pub chat_template: Option<String>,
}

impl GgufVocab {
    /// Reads the `tokenizer.*` keys of a parsed header.
    pub fn from_header(header: &GgufHeader) -> Result<Self, TokenizerError> {
        Self::from_metadata(|key| header.get(key))
    }

    /// The `tokenizer.*` keys that describe this vocabulary, as a GGUF file stores them.
    pub fn to_metadata(&self) -> Vec<(String, MetadataValue)> {
        let strings = |v: &[String]| {
            MetadataValue::Array(v.iter().map(|s| MetadataValue::String(s.clone())).collect())
        };
        let mut out = vec![
            (
                "tokenizer.ggml.model".to_string(),
                MetadataValue::String(self.model.clone()),
            ),
            ("tokenizer.ggml.tokens".to_string(), strings(&self.tokens)),
            (
                "tokenizer.ggml.token_type".to_string(),
                MetadataValue::Array(
                    self.token_types
                        .iter()
                        .map(|t| MetadataValue::I32(t.to_gguf()))
                        .collect(),
                ),
            ),
        ];
        if !self.merges.is_empty() {
            out.push(("tokenizer.ggml.merges".into(), strings(&self.merges)));
        }
        if let Some(pre) = &self.pre {
            out.push((
                "tokenizer.ggml.pre".into(),
                MetadataValue::String(pre.clone()),
            ));
        }
        for (key, id) in [
            ("tokenizer.ggml.bos_token_id", self.bos),
            ("tokenizer.ggml.eos_token_id", self.eos),
            ("tokenizer.ggml.eot_token_id", self.eot),
            ("tokenizer.ggml.eom_token_id", self.eom),
        ] {
            if let Some(id) = id {
                out.push((key.into(), MetadataValue::U32(id)));
            }
        }
        if let Some(add_bos) = self.add_bos {
            out.push((
                "tokenizer.ggml.add_bos_token".into(),
                MetadataValue::Bool(add_bos),
            ));
        }
        if let Some(template) = &self.chat_template {
            out.push((
                "tokenizer.chat_template".into(),
                MetadataValue::String(template.clone()),
            ));
        }
        out
    }

    /// Reads the `tokenizer.*` keys through a lookup (a header, or a test's map).
    pub fn from_metadata<'a>(
        get: impl Fn(&str) -> Option<&'a MetadataValue>,
    ) -> Result<Self, TokenizerError> {
        let bad = |key: &str, what: &str| TokenizerError::Malformed(format!("GGUF `{key}` {what}"));
        let string = |key: &str| -> Result<Option<String>, TokenizerError> {
            match get(key) {
                None => Ok(None),
                Some(v) => v
                    .as_str()
                    .map(|s| Some(s.to_string()))
                    .ok_or_else(|| bad(key, "is not a string")),
            }
        };
        let strings = |key: &str| -> Result<Option<Vec<String>>, TokenizerError> {
            let Some(v) = get(key) else { return Ok(None) };
            let arr = v.as_array().ok_or_else(|| bad(key, "is not an array"))?;
            arr.iter()
                .map(|e| e.as_str().map(str::to_string))
                .collect::<Option<Vec<_>>>()
                .map(Some)
                .ok_or_else(|| bad(key, "is not an array of strings"))
        };
        let id = |key: &str| -> Result<Option<TokenId>, TokenizerError> {
            match get(key) {
                None => Ok(None),
                Some(v) => v
                    .as_u32()
                    .map(Some)
                    .ok_or_else(|| bad(key, "is not a token id")),
            }
        };
        let model = string("tokenizer.ggml.model")?
            .ok_or_else(|| bad("tokenizer.ggml.model", "is missing"))?;
        let tokens = strings("tokenizer.ggml.tokens")?
            .ok_or_else(|| bad("tokenizer.ggml.tokens", "is missing"))?;
        let token_types = match get("tokenizer.ggml.token_type") {
            None => vec![TokenType::Normal; tokens.len()],
            Some(v) => {
                let key = "tokenizer.ggml.token_type";
                let arr = v.as_array().ok_or_else(|| bad(key, "is not an array"))?;
                if arr.len() != tokens.len() {
                    return Err(bad(
                        key,
                        &format!("has {} entries for {} tokens", arr.len(), tokens.len()),
                    ));
                }
                arr.iter()
                    .map(|e| e.as_i64().map(TokenType::from_gguf))
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(|| bad(key, "is not an array of integers"))?
            }
        };
        let add_bos = match get("tokenizer.ggml.add_bos_token") {
            None => None,
            Some(v) => Some(
                v.as_bool()
                    .ok_or_else(|| bad("tokenizer.ggml.add_bos_token", "is not a bool"))?,
            ),
        };
        Ok(GgufVocab {
            model,
            pre: string("tokenizer.ggml.pre")?,
            tokens,
            token_types,
            merges: strings("tokenizer.ggml.merges")?.unwrap_or_default(),
            bos: id("tokenizer.ggml.bos_token_id")?,
            eos: id("tokenizer.ggml.eos_token_id")?,
            eot: id("tokenizer.ggml.eot_token_id")?,
            eom: id("tokenizer.ggml.eom_token_id")?,
            add_bos,
            chat_template: string("tokenizer.chat_template")?,
        })
    }
}

/// Texts llama.cpp treats as end of generation (and as control tokens) whatever their type.
const END_OF_GENERATION_TEXTS: [&str; 7] = [
    "<|eot_id|>",
    "<|im_end|>",
    "<|end|>",
    "<end_of_turn>",
    "<|endoftext|>",
    "<|eom_id|>",
    "<EOT>",
];

impl Tokenizer {
    /// A tokenizer from a parsed GGUF header.
    pub fn from_gguf(header: &GgufHeader) -> Result<Self, TokenizerError> {
        Self::from_gguf_vocab(&GgufVocab::from_header(header)?)
    }

    pub fn from_gguf_vocab(vocab: &GgufVocab) -> Result<Self, TokenizerError> {
        if vocab.model != "gpt2" {
            return Err(TokenizerError::Unsupported(format!(
                "GGUF tokenizer model {:?} (only `gpt2`, byte-level BPE, is supported)",
                vocab.model
            )));
        }
        let pre_name = vocab.pre.as_deref().ok_or_else(|| {
            TokenizerError::Unsupported("GGUF file has no `tokenizer.ggml.pre`".into())
        })?;
        let pretokenizer = PreTokenizer::from_gguf_name(pre_name)?;
        let n = vocab.tokens.len();
        if n == 0 || n > MAX_RANK as usize {
            return Err(TokenizerError::Malformed(format!(
                "GGUF vocabulary has {n} tokens"
            )));
        }
        if vocab.token_types.len() != n {
            return Err(TokenizerError::Malformed(format!(
                "GGUF vocabulary has {} token types for {n} tokens",
                vocab.token_types.len()
            )));
        }
        let check = |what: &str, id: Option<TokenId>| match id {
            Some(id) if id as usize >= n => Err(TokenizerError::Malformed(format!(
                "GGUF {what} token id {id} is outside the {n}-token vocabulary"
            ))),
            _ => Ok(id),
        };
        let bos = check("BOS", vocab.bos)?;
        let eos = check("EOS", vocab.eos)?;
        let eot = check("EOT", vocab.eot)?;
        let eom = check("EOM", vocab.eom)?;

        let mut types = vocab.token_types.clone();
        let mut end_of_generation: Vec<TokenId> = Vec::new();
        for (i, text) in vocab.tokens.iter().enumerate() {
            if END_OF_GENERATION_TEXTS.contains(&text.as_str()) {
                types[i] = TokenType::Control;
                end_of_generation.push(i as TokenId);
            }
        }
        for id in [eos, eot, eom].into_iter().flatten() {
            if !end_of_generation.contains(&id) {
                end_of_generation.push(id);
            }
        }

        let reverse = bpe::gpt2_reverse_table();
        let mut pieces: Vec<Option<Box<[u8]>>> = Vec::with_capacity(n);
        let mut ids: FxHashMap<Vec<u8>, TokenId> = FxHashMap::default();
        let mut seen: FxHashSet<&str> = FxHashSet::default();
        let mut specials = Vec::new();
        let mut plain_specials = Vec::new();
        for (i, (text, ty)) in vocab.tokens.iter().zip(&types).enumerate() {
            let id = i as TokenId;
            if !seen.insert(text.as_str()) {
                return Err(TokenizerError::Malformed(format!(
                    "GGUF token {text:?} appears twice (again at id {id})"
                )));
            }
            match ty {
                TokenType::Control | TokenType::UserDefined | TokenType::Unknown => {
                    pieces.push(Some(text.as_bytes().into()));
                    specials.push((text.clone(), id));
                    if *ty == TokenType::UserDefined {
                        plain_specials.push((text.clone(), id));
                    }
                }
                _ => match bpe::gpt2_decode(text, &reverse) {
                    Some(bytes) => {
                        pieces.push(Some(bytes.as_slice().into()));
                        ids.insert(bytes, id);
                    }
                    // Not byte-level text: BPE can never produce it; decode it as written.
                    None => pieces.push(Some(text.as_bytes().into())),
                },
            }
        }

        if vocab.merges.is_empty() {
            return Err(TokenizerError::Malformed(
                "GGUF `tokenizer.ggml.merges` is missing or empty".into(),
            ));
        }
        // A rule that does not parse still takes its rank (it just never applies).
        let rules: Vec<MergeRule> = vocab
            .merges
            .iter()
            .map(|m| {
                // llama.cpp splits at the first space after the first byte.
                let at = m.bytes().skip(1).position(|b| b == b' ').map(|p| p + 1);
                at.and_then(|at| {
                    Some(MergeRule {
                        left: bpe::gpt2_decode(&m[..at], &reverse)?,
                        right: bpe::gpt2_decode(&m[at + 1..], &reverse)?,
                    })
                })
                .unwrap_or(MergeRule {
                    left: Vec::new(),
                    right: Vec::new(),
                })
            })
            .collect();
        let (engine, _skipped) = MergeBpe::new(pretokenizer, ids, rules);

        let add_bos = vocab
            .add_bos
            .unwrap_or(pretokenizer == PreTokenizer::Llama3);
        Ok(Tokenizer {
            engine: Engine::Merges(Box::new(engine)),
            pieces,
            specials: SpecialMatcher::new(specials),
            plain_specials: SpecialMatcher::new(plain_specials),
            bos,
            eos,
            end_of_generation,
            add_bos,
            chat_template: vocab.chat_template.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny() -> GgufVocab {
        let tokens: Vec<String> = bpe::gpt2_byte_chars()
            .iter()
            .map(|c| c.to_string())
            .chain(["Ġh", "Ġhi", "<|im_end|>", "<tool>"].map(String::from))
            .collect();
        let mut token_types = vec![TokenType::Normal; tokens.len()];
        let n = token_types.len();
        token_types[n - 1] = TokenType::UserDefined;
        token_types[n - 2] = TokenType::Normal; // llama.cpp makes it control by its text
        GgufVocab {
            model: "gpt2".into(),
            pre: Some("smollm".into()),
            tokens,
            token_types,
            merges: vec!["Ġ h".into(), "Ġh i".into()],
            eos: Some(258),
            ..Default::default()
        }
    }

    #[test]
    fn builds_and_splits_specials_like_llama_cpp() {
        let t = Tokenizer::from_gguf_vocab(&tiny()).unwrap();
        assert_eq!(t.encode(" hi"), vec![257]);
        // Control tokens stay text unless specials are parsed; user-defined ones never do.
        assert_eq!(t.encode("<|im_end|>").len(), 10);
        assert_eq!(t.encode_with_specials("<|im_end|>"), vec![258]);
        assert_eq!(t.encode("<tool>"), vec![259]);
        assert!(t.is_end_of_generation(258));
        assert_eq!(t.decode(&[257, 258]).unwrap(), " hi<|im_end|>");
        assert!(matches!(
            t.decode(&[9999]),
            Err(TokenizerError::UnknownToken(9999))
        ));
        assert!(!t.adds_bos());
    }

    #[test]
    fn refuses_what_it_cannot_run() {
        let mut v = tiny();
        v.pre = Some("klingon".into());
        let e = Tokenizer::from_gguf_vocab(&v).unwrap_err().to_string();
        assert!(e.contains("klingon"), "{e}");
        let mut v = tiny();
        v.model = "llama".into();
        assert!(Tokenizer::from_gguf_vocab(&v).is_err());
        let mut v = tiny();
        v.pre = None;
        assert!(Tokenizer::from_gguf_vocab(&v).is_err());
        let mut v = tiny();
        v.eos = Some(100_000);
        assert!(Tokenizer::from_gguf_vocab(&v).is_err());
        let mut v = tiny();
        v.tokens[5] = v.tokens[6].clone();
        assert!(Tokenizer::from_gguf_vocab(&v).is_err());
        let mut v = tiny();
        v.token_types.pop();
        assert!(Tokenizer::from_gguf_vocab(&v).is_err());
    }

    #[test]
    fn reads_metadata() {
        let meta: Vec<(&str, MetadataValue)> = vec![
            ("tokenizer.ggml.model", MetadataValue::String("gpt2".into())),
            (
                "tokenizer.ggml.tokens",
                MetadataValue::Array(vec![MetadataValue::String("a".into())]),
            ),
            ("tokenizer.ggml.bos_token_id", MetadataValue::U32(0)),
            ("tokenizer.ggml.add_bos_token", MetadataValue::Bool(true)),
        ];
        let get = |k: &str| meta.iter().find(|(m, _)| *m == k).map(|(_, v)| v);
        let v = GgufVocab::from_metadata(get).unwrap();
        assert_eq!(v.tokens, vec!["a"]);
        assert_eq!(v.token_types, vec![TokenType::Normal]);
        assert_eq!((v.bos, v.add_bos), (Some(0), Some(true)));
        let bad: Vec<(&str, MetadataValue)> = vec![("tokenizer.ggml.model", MetadataValue::U32(1))];
        let get = |k: &str| bad.iter().find(|(m, _)| *m == k).map(|(_, v)| v);
        let e = GgufVocab::from_metadata(get).unwrap_err().to_string();
        assert!(e.contains("tokenizer.ggml.model"), "{e}");
    }
}
