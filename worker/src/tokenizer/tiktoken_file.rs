//! `.tiktoken` rank files (also the format of Llama 3's `tokenizer.model`): one
//! `base64(token bytes) rank` pair per line. The special tokens are not in the file.

use super::TokenizerError;
use base64::Engine as _;

/// Ranks above this are refused: a rank is an index into tables sized by the largest one, so a
/// corrupt file must not be able to ask for gigabytes.
pub const MAX_RANK: u32 = 1 << 24;

/// Parses a rank file into `(token bytes, rank)` pairs, in file order. Every rank and every
/// token must be unique.
pub fn parse_ranks(data: &[u8]) -> Result<Vec<(Vec<u8>, u32)>, TokenizerError> {
    let text = std::str::from_utf8(data)
        .map_err(|e| malformed(format!("not UTF-8 text (byte {})", e.valid_up_to())))?;
    let mut ranks = Vec::new();
    let mut seen_tokens = std::collections::HashSet::new();
    let mut seen_ranks = std::collections::HashSet::new();
    for (index, line) in text.lines().enumerate() {
        let line_no = index + 1;
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() {
            continue;
        }
        let mut fields = line.split(' ');
        let (Some(token), Some(rank), None) = (fields.next(), fields.next(), fields.next()) else {
            return Err(malformed(format!(
                "line {line_no}: expected `base64-token rank`"
            )));
        };
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(token)
            .map_err(|e| malformed(format!("line {line_no}: bad base64 token ({e})")))?;
        let rank: u32 = rank
            .parse()
            .map_err(|_| malformed(format!("line {line_no}: rank {rank:?} is not a number")))?;
        if rank >= MAX_RANK {
            return Err(malformed(format!(
                "line {line_no}: rank {rank} is too large"
            )));
        }
        if !seen_ranks.insert(rank) {
            return Err(malformed(format!(
                "line {line_no}: rank {rank} appears twice"
            )));
        }
        if !seen_tokens.insert(bytes.clone()) {
            return Err(malformed(format!("line {line_no}: token appears twice")));
        }
        ranks.push((bytes, rank));
    }
    if ranks.is_empty() {
        return Err(malformed("no ranks".into()));
    }
    Ok(ranks)
}

fn malformed(what: String) -> TokenizerError {
    TokenizerError::Malformed(format!("tiktoken file: {what}"))
}

/// Llama 3's pre-tokenizer pattern, as in Meta's `tokenizer.py`.
pub const LLAMA3_PATTERN: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

/// Number of ordinary ranks in Llama 3's `tokenizer.model`; the 256 special tokens follow.
pub const LLAMA3_BASE_RANKS: u32 = 128_000;
pub const LLAMA3_SPECIAL_COUNT: u32 = 256;

/// Llama 3.x special tokens and their ids, as Meta's `tokenizer.py` (llama-models, 3.1+) names
/// them: the named ones first, then `<|reserved_special_token_N|>` for the rest.
pub fn llama3_special_tokens() -> Vec<(String, u32)> {
    let named = [
        "<|begin_of_text|>",
        "<|end_of_text|>",
        "<|reserved_special_token_0|>",
        "<|reserved_special_token_1|>",
        "<|finetune_right_pad_id|>",
        "<|step_id|>",
        "<|start_header_id|>",
        "<|end_header_id|>",
        "<|eom_id|>",
        "<|eot_id|>",
        "<|python_tag|>",
    ];
    let mut specials: Vec<String> = named.iter().map(|s| s.to_string()).collect();
    let reserved = LLAMA3_SPECIAL_COUNT as usize - named.len();
    specials.extend((0..reserved).map(|i| format!("<|reserved_special_token_{}|>", i + 2)));
    specials
        .into_iter()
        .enumerate()
        .map(|(i, s)| (s, LLAMA3_BASE_RANKS + i as u32))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_rejects() {
        let ranks = parse_ranks(b"IQ== 0\nIg== 1\n\n").unwrap();
        assert_eq!(ranks, vec![(b"!".to_vec(), 0), (b"\"".to_vec(), 1)]);
        for bad in [
            &b"IQ== 0\nIQ== 1"[..],
            b"IQ== 0\nIg== 0",
            b"IQ==",
            b"!!! 0",
            b"IQ== x",
            b"IQ== 99999999999",
            b"",
            b"\xff\xfe",
        ] {
            let err = parse_ranks(bad).unwrap_err().to_string();
            assert!(err.contains("tiktoken file"), "{err}");
        }
    }

    #[test]
    fn llama3_specials_are_meta_names() {
        let s = llama3_special_tokens();
        assert_eq!(s.len(), 256);
        assert_eq!(s[0], ("<|begin_of_text|>".into(), 128000));
        assert_eq!(s[9], ("<|eot_id|>".into(), 128009));
        assert_eq!(s[11], ("<|reserved_special_token_2|>".into(), 128011));
        assert_eq!(s[255], ("<|reserved_special_token_246|>".into(), 128255));
    }
}
