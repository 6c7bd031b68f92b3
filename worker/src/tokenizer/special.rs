//! Splitting text on special-token strings, the way llama.cpp's `tokenizer_st_partition` does:
//! longest special first, each one cut out of every remaining text fragment left to right.

use super::TokenId;

/// A piece of text after special tokens were cut out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fragment<'a> {
    Text(&'a str),
    Special(TokenId),
}

/// A set of special-token strings to recognise.
#[derive(Clone, Debug, Default)]
pub struct SpecialMatcher {
    /// Longest first; equal lengths by id, so the order is deterministic.
    tokens: Vec<(String, TokenId)>,
}

impl SpecialMatcher {
    pub fn new(tokens: impl IntoIterator<Item = (String, TokenId)>) -> Self {
        let mut tokens: Vec<(String, TokenId)> =
            tokens.into_iter().filter(|(t, _)| !t.is_empty()).collect();
        tokens.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then(a.1.cmp(&b.1)));
        SpecialMatcher { tokens }
    }

    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }

    pub fn id_of(&self, text: &str) -> Option<TokenId> {
        self.tokens
            .iter()
            .find(|(t, _)| t == text)
            .map(|(_, id)| *id)
    }

    pub fn texts(&self) -> impl Iterator<Item = &str> {
        self.tokens.iter().map(|(t, _)| t.as_str())
    }

    pub fn split<'a>(&self, text: &'a str) -> Vec<Fragment<'a>> {
        let mut fragments = vec![Fragment::Text(text)];
        if text.is_empty() {
            return Vec::new();
        }
        for (special, id) in &self.tokens {
            if !text.contains(special.as_str()) {
                continue;
            }
            let mut next = Vec::with_capacity(fragments.len() + 2);
            for fragment in fragments {
                let Fragment::Text(mut rest) = fragment else {
                    next.push(fragment);
                    continue;
                };
                while let Some(at) = rest.find(special.as_str()) {
                    if at > 0 {
                        next.push(Fragment::Text(&rest[..at]));
                    }
                    next.push(Fragment::Special(*id));
                    rest = &rest[at + special.len()..];
                }
                if !rest.is_empty() {
                    next.push(Fragment::Text(rest));
                }
            }
            fragments = next;
        }
        fragments
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn longest_first_then_left_to_right() {
        let m = SpecialMatcher::new([("<a>".to_string(), 1), ("<a><b>".to_string(), 2)]);
        assert_eq!(
            m.split("x<a><b>y<a>"),
            vec![
                Fragment::Text("x"),
                Fragment::Special(2),
                Fragment::Text("y"),
                Fragment::Special(1)
            ]
        );
        assert_eq!(m.split(""), vec![]);
        assert_eq!(
            m.split("<a><a>"),
            vec![Fragment::Special(1), Fragment::Special(1)]
        );
    }
}
