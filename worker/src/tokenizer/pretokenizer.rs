//! Pre-tokenizers for GGUF `gpt2` vocabularies, chosen by `tokenizer.ggml.pre`.
//!
//! llama.cpp does not run these patterns through a regex engine: it has hand-written scanners
//! for the GPT-2 and Llama 3 patterns (`unicode_regex_split_custom_*`), and `smollm` applies
//! two patterns in sequence (every number character alone first, then GPT-2's pattern on each
//! piece). These scanners follow llama.cpp's step for step, so that where its scanner and a
//! regex engine would differ (characters with no Unicode category, for example) we agree with
//! llama.cpp, which is the reference for GGUF files.

use super::TokenizerError;
use std::sync::OnceLock;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PreTokenizer {
    /// `llama-bpe` (Llama 3): `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|
    /// ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`.
    Llama3,
    /// `gpt-2`: `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`.
    Gpt2,
    /// `smollm` (also `starcoder`, `refact`, ...): `\p{N}` first, then GPT-2's pattern.
    DigitsThenGpt2,
}

impl PreTokenizer {
    /// The pre-tokenizer llama.cpp uses for a `tokenizer.ggml.pre` name.
    pub fn from_gguf_name(name: &str) -> Result<Self, TokenizerError> {
        Ok(match name {
            "llama3" | "llama-v3" | "llama-bpe" | "falcon3" | "dbrx" | "smaug-bpe" => {
                PreTokenizer::Llama3
            }
            "gpt-2" | "phi-2" | "roberta-bpe" | "mpt" | "olmo" | "jais" => PreTokenizer::Gpt2,
            "smollm" | "starcoder" | "refact" | "command-r" | "codeshell" | "exaone"
            | "minerva-7b" => PreTokenizer::DigitsThenGpt2,
            other => {
                return Err(TokenizerError::Unsupported(format!(
                    "unknown pre-tokenizer `tokenizer.ggml.pre` = {other:?} (supported: \
                     llama-bpe, smollm, gpt-2 and their aliases)"
                )))
            }
        })
    }

    /// Whether llama.cpp looks a whole pre-token up in the vocabulary before merging
    /// (`ignore_merges`, set for Llama 3 vocabularies, as tiktoken does).
    pub fn ignores_merges(self) -> bool {
        matches!(self, PreTokenizer::Llama3)
    }

    /// Splits text into pre-tokens (their concatenation is the text).
    pub fn split(self, text: &str) -> Vec<&str> {
        let mut out = Vec::new();
        match self {
            PreTokenizer::Llama3 => split_llama3(text, &mut out),
            PreTokenizer::Gpt2 => split_gpt2(text, &mut out),
            PreTokenizer::DigitsThenGpt2 => {
                for piece in split_numbers(text) {
                    split_gpt2(piece, &mut out);
                }
            }
        }
        out
    }
}

/// The character classes llama.cpp's scanners test (`unicode_cpt_flags`).
#[derive(Clone, Copy, Default)]
struct Flags {
    letter: bool,
    number: bool,
    whitespace: bool,
    /// Has a Unicode general category (llama.cpp's `as_uint() != 0`): false for unassigned
    /// code points and outside the text.
    defined: bool,
}

struct Tables {
    letters: Vec<(char, char)>,
    unassigned: Vec<(char, char)>,
}

fn tables() -> &'static Tables {
    static TABLES: OnceLock<Tables> = OnceLock::new();
    TABLES.get_or_init(|| Tables {
        letters: unicode_class(r"\p{L}"),
        unassigned: unicode_class(r"\p{Cn}"),
    })
}

/// The ranges of a Unicode class, from the tables regex-syntax already ships.
fn unicode_class(pattern: &str) -> Vec<(char, char)> {
    use regex_syntax::hir::{Class, HirKind};
    let hir = regex_syntax::Parser::new()
        .parse(pattern)
        .expect("a built-in Unicode class parses");
    match hir.kind() {
        HirKind::Class(Class::Unicode(class)) => class
            .ranges()
            .iter()
            .map(|r| (r.start(), r.end()))
            .collect(),
        _ => Vec::new(),
    }
}

fn in_ranges(ranges: &[(char, char)], c: char) -> bool {
    ranges
        .binary_search_by(|&(lo, hi)| {
            if hi < c {
                std::cmp::Ordering::Less
            } else if lo > c {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        })
        .is_ok()
}

fn flags_of(c: char) -> Flags {
    let t = tables();
    Flags {
        letter: in_ranges(&t.letters, c),
        number: c.is_numeric(),
        whitespace: c.is_whitespace(),
        defined: !in_ranges(&t.unassigned, c),
    }
}

/// The code points of one region, with out-of-range reads answering "nothing" as llama.cpp's
/// `_get_cpt` / `_get_flags` do.
struct Region<'a> {
    text: &'a str,
    chars: Vec<(usize, char)>,
    flags: Vec<Flags>,
    prev_end: usize,
}

impl<'a> Region<'a> {
    fn new(text: &'a str) -> Self {
        let chars: Vec<(usize, char)> = text.char_indices().collect();
        let flags = chars.iter().map(|&(_, c)| flags_of(c)).collect();
        Region {
            text,
            chars,
            flags,
            prev_end: 0,
        }
    }
    fn len(&self) -> usize {
        self.chars.len()
    }
    fn cpt(&self, pos: usize) -> Option<char> {
        self.chars.get(pos).map(|&(_, c)| c)
    }
    fn flags(&self, pos: usize) -> Flags {
        self.flags.get(pos).copied().unwrap_or_default()
    }
    fn byte(&self, pos: usize) -> usize {
        self.chars.get(pos).map_or(self.text.len(), |&(b, _)| b)
    }
    /// Ends the current pre-token at `end` (a code point index); returns its length.
    fn add(&mut self, end: usize, out: &mut Vec<&'a str>) -> usize {
        let len = end - self.prev_end;
        if len > 0 {
            out.push(&self.text[self.byte(self.prev_end)..self.byte(end)]);
        }
        self.prev_end = end;
        len
    }
}

fn lower(c: Option<char>) -> Option<char> {
    // llama.cpp's `unicode_tolower` maps a code point to its simple lowercase; only ASCII
    // letters matter for the contraction suffixes compared against.
    c.map(|c| c.to_ascii_lowercase())
}

/// `\p{N}`: every number character is its own piece, the text between is kept as pieces too.
fn split_numbers(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    for (at, c) in text.char_indices() {
        if c.is_numeric() {
            if at > start {
                out.push(&text[start..at]);
            }
            out.push(&text[at..at + c.len_utf8()]);
            start = at + c.len_utf8();
        }
    }
    if start < text.len() {
        out.push(&text[start..]);
    }
    out
}

/// llama.cpp `unicode_regex_split_custom_gpt2`.
fn split_gpt2<'a>(text: &'a str, out: &mut Vec<&'a str>) {
    let mut r = Region::new(text);
    let end = r.len();
    let mut pos = 0;
    while pos < end {
        let cpt = r.cpt(pos);
        let flags = r.flags(pos);

        // 's|'t|'re|'ve|'m|'ll|'d
        if cpt == Some('\'') && pos + 1 < end {
            let next = r.cpt(pos + 1);
            if matches!(next, Some('s' | 't' | 'm' | 'd')) {
                pos += r.add(pos + 2, out);
                continue;
            }
            if pos + 2 < end {
                let next2 = r.cpt(pos + 2);
                if matches!(
                    (next, next2),
                    (Some('r'), Some('e')) | (Some('v'), Some('e')) | (Some('l'), Some('l'))
                ) {
                    pos += r.add(pos + 3, out);
                    continue;
                }
            }
        }

        let space = cpt == Some(' ');
        let mut flags2 = if space { r.flags(pos + 1) } else { flags };
        // <space>?\p{L}+
        if flags2.letter {
            pos += space as usize;
            while flags2.letter {
                pos += 1;
                flags2 = r.flags(pos);
            }
            r.add(pos, out);
            continue;
        }
        // <space>?\p{N}+
        if flags2.number {
            pos += space as usize;
            while flags2.number {
                pos += 1;
                flags2 = r.flags(pos);
            }
            r.add(pos, out);
            continue;
        }
        // <space>?[^\s\p{L}\p{N}]+
        if !(flags2.whitespace || flags2.letter || flags2.number) && flags2.defined {
            pos += space as usize;
            while !(flags2.whitespace || flags2.letter || flags2.number) && flags2.defined {
                pos += 1;
                flags2 = r.flags(pos);
            }
            r.add(pos, out);
            continue;
        }

        let mut whitespaces = 0;
        while r.flags(pos + whitespaces).whitespace {
            whitespaces += 1;
        }
        // \s+(?!\S)
        if whitespaces > 1 && r.cpt(pos + whitespaces).is_some() {
            pos += whitespaces - 1;
            r.add(pos, out);
            continue;
        }
        // \s+
        if whitespaces > 0 {
            pos += whitespaces;
            r.add(pos, out);
            continue;
        }
        // No pattern matches: the character stands alone.
        pos += 1;
        r.add(pos, out);
    }
}

/// llama.cpp `unicode_regex_split_custom_llama3`.
fn split_llama3<'a>(text: &'a str, out: &mut Vec<&'a str>) {
    let mut r = Region::new(text);
    let end = r.len();
    let mut pos = 0;
    while pos < end {
        let cpt = r.cpt(pos);
        let flags = r.flags(pos);

        // (?i:'s|'t|'re|'ve|'m|'ll|'d)
        if cpt == Some('\'') && pos + 1 < end {
            let next = lower(r.cpt(pos + 1));
            if matches!(next, Some('s' | 't' | 'm' | 'd')) {
                pos += r.add(pos + 2, out);
                continue;
            }
            if pos + 2 < end {
                let next2 = lower(r.cpt(pos + 2));
                if matches!(
                    (next, next2),
                    (Some('r'), Some('e')) | (Some('v'), Some('e')) | (Some('l'), Some('l'))
                ) {
                    pos += r.add(pos + 3, out);
                    continue;
                }
            }
        }

        // [^\r\n\p{L}\p{N}]?\p{L}+
        if !(cpt == Some('\r') || cpt == Some('\n') || flags.number)
            && (flags.letter || r.flags(pos + 1).letter)
        {
            pos += 1;
            while r.flags(pos).letter {
                pos += 1;
            }
            r.add(pos, out);
            continue;
        }

        // \p{N}{1,3}
        if flags.number {
            let mut ini = pos;
            while r.flags(pos).number {
                pos += 1;
                if pos - ini >= 3 {
                    r.add(pos, out);
                    ini = pos;
                }
            }
            r.add(pos, out);
            continue;
        }

        // <space>?[^\s\p{L}\p{N}]+[\r\n]*
        let space = cpt == Some(' ');
        let mut flags2 = if space { r.flags(pos + 1) } else { flags };
        if !(flags2.whitespace || flags2.letter || flags2.number) && flags2.defined {
            pos += space as usize;
            while !(flags2.whitespace || flags2.letter || flags2.number) && flags2.defined {
                pos += 1;
                flags2 = r.flags(pos);
            }
            while matches!(r.cpt(pos), Some('\r' | '\n')) {
                pos += 1;
            }
            r.add(pos, out);
            continue;
        }

        let mut whitespaces = 0;
        let mut last_newline_end = 0;
        while r.flags(pos + whitespaces).whitespace {
            if matches!(r.cpt(pos + whitespaces), Some('\r' | '\n')) {
                last_newline_end = pos + whitespaces + 1;
            }
            whitespaces += 1;
        }
        // \s*[\r\n]+
        if last_newline_end > 0 {
            pos = last_newline_end;
            r.add(pos, out);
            continue;
        }
        // \s+(?!\S)
        if whitespaces > 1 && r.cpt(pos + whitespaces).is_some() {
            pos += whitespaces - 1;
            r.add(pos, out);
            continue;
        }
        // \s+
        if whitespaces > 0 {
            pos += whitespaces;
            r.add(pos, out);
            continue;
        }
        pos += 1;
        r.add(pos, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn llama3_matches_the_pattern_on_plain_cases() {
        let p = PreTokenizer::Llama3;
        assert_eq!(
            p.split("Hello, world!  It's 12345 \n\n  ok"),
            vec![
                "Hello", ",", " world", "!", " ", " It", "'s", " ", "123", "45", " \n\n", " ",
                " ok"
            ]
        );
    }

    #[test]
    fn smollm_splits_digits_first() {
        let p = PreTokenizer::DigitsThenGpt2;
        assert_eq!(
            p.split("ab 123 x1"),
            vec!["ab", " ", "1", "2", "3", " x", "1"]
        );
        assert_eq!(
            p.split("don't  stop\n"),
            vec!["don", "'t", " ", " stop", "\n"]
        );
    }

    #[test]
    fn unknown_pre_is_named() {
        let err = PreTokenizer::from_gguf_name("mystery-bpe")
            .unwrap_err()
            .to_string();
        assert!(err.contains("mystery-bpe"), "{err}");
    }

    #[test]
    fn splits_cover_the_text() {
        for text in [
            "",
            " ",
            "\u{378}\u{379}x",
            "日本語 テキスト",
            "a\r\n\tb  ",
            "😀😀 !!",
        ] {
            for p in [
                PreTokenizer::Llama3,
                PreTokenizer::Gpt2,
                PreTokenizer::DigitsThenGpt2,
            ] {
                assert_eq!(p.split(text).concat(), text);
            }
        }
    }
}
