//! A GGUF vocabulary from a Hugging Face `tokenizer.json` (byte-level BPE), written the way
//! llama.cpp's converter (`_set_vocab_gpt2`) does: tokens by id, added tokens as control
//! (special) or user-defined, gaps as unused `[PAD{id}]`, merges as `"left right"`.

use super::gguf_vocab::{GgufVocab, TokenType};
use super::TokenizerError;
use serde_json::Value;
use std::collections::BTreeMap;

/// More ids than any real vocabulary; a bound on what a malformed file can make us allocate.
const MAX_VOCAB: u64 = 1 << 22;

impl GgufVocab {
    /// Reads a `tokenizer.json` of model type BPE; `pre` names the llama.cpp pre-tokenizer
    /// (e.g. `llama-bpe` for Llama 3).
    pub fn from_tokenizer_json(text: &str, pre: &str) -> Result<Self, TokenizerError> {
        let bad = |what: &str| TokenizerError::Malformed(format!("tokenizer.json: {what}"));
        let tj: Value = serde_json::from_str(text).map_err(|e| bad(&e.to_string()))?;
        let model = &tj["model"];
        if model["type"].as_str() != Some("BPE") {
            return Err(TokenizerError::Unsupported(format!(
                "tokenizer.json model type {:?} (only BPE)",
                model["type"]
            )));
        }
        let mut by_id: BTreeMap<u64, (String, TokenType)> = BTreeMap::new();
        let vocab = model["vocab"]
            .as_object()
            .ok_or_else(|| bad("no model.vocab"))?;
        for (token, id) in vocab {
            let id = id
                .as_u64()
                .filter(|&i| i < MAX_VOCAB)
                .ok_or_else(|| bad("bad token id"))?;
            by_id.insert(id, (token.clone(), TokenType::Normal));
        }
        for added in tj["added_tokens"].as_array().into_iter().flatten() {
            let id = added["id"]
                .as_u64()
                .filter(|&i| i < MAX_VOCAB)
                .ok_or_else(|| bad("bad added token id"))?;
            let content = added["content"]
                .as_str()
                .ok_or_else(|| bad("added token without content"))?;
            let ty = if added["special"].as_bool().unwrap_or(false) {
                TokenType::Control
            } else {
                TokenType::UserDefined
            };
            by_id.insert(id, (content.to_string(), ty));
        }
        let last = *by_id.keys().last().ok_or_else(|| bad("empty vocabulary"))?;
        let (tokens, token_types) = (0..=last)
            .map(|i| {
                by_id
                    .remove(&i)
                    .unwrap_or_else(|| (format!("[PAD{i}]"), TokenType::Unused))
            })
            .unzip();
        let merges = model["merges"]
            .as_array()
            .ok_or_else(|| bad("no model.merges"))?
            .iter()
            .map(|m| match m {
                Value::String(s) => Some(s.clone()),
                Value::Array(pair) => match (pair.first(), pair.get(1)) {
                    (Some(Value::String(a)), Some(Value::String(b))) => Some(format!("{a} {b}")),
                    _ => None,
                },
                _ => None,
            })
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| bad("a merge is neither \"a b\" nor [a, b]"))?;
        let find = |content: &str| added_token_id(&tj, content);
        Ok(GgufVocab {
            model: "gpt2".into(),
            pre: Some(pre.into()),
            tokens,
            token_types,
            merges,
            bos: find("<|begin_of_text|>"),
            eos: find("<|eot_id|>").or_else(|| find("<|end_of_text|>")),
            ..Default::default()
        })
    }
}

fn added_token_id(tj: &Value, content: &str) -> Option<u32> {
    tj["added_tokens"]
        .as_array()?
        .iter()
        .find(|t| t["content"].as_str() == Some(content))
        .and_then(|t| t["id"].as_u64())
        .and_then(|id| u32::try_from(id).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_vocabulary_with_gaps_and_added_tokens() {
        let json = r#"{"model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 3},
            "merges": ["a b", ["ab", "b"]]},
            "added_tokens": [{"id": 4, "content": "<|eot_id|>", "special": true},
                             {"id": 5, "content": "<x>", "special": false}]}"#;
        let v = GgufVocab::from_tokenizer_json(json, "llama-bpe").unwrap();
        assert_eq!(v.tokens, ["a", "b", "[PAD2]", "ab", "<|eot_id|>", "<x>"]);
        assert_eq!(v.token_types[2], TokenType::Unused);
        assert_eq!(v.token_types[4], TokenType::Control);
        assert_eq!(v.token_types[5], TokenType::UserDefined);
        assert_eq!(v.merges, ["a b", "ab b"]);
        assert_eq!(v.eos, Some(4));
        assert_eq!(v.bos, None);
    }

    #[test]
    fn malformed_files_are_errors() {
        for json in [
            "not json",
            r#"{"model": {"type": "Unigram"}}"#,
            r#"{"model": {"type": "BPE", "vocab": {"a": 99999999999}, "merges": []}}"#,
            r#"{"model": {"type": "BPE", "vocab": {"a": 0}, "merges": [3]}}"#,
        ] {
            assert!(
                GgufVocab::from_tokenizer_json(json, "llama-bpe").is_err(),
                "{json}"
            );
        }
    }
}
