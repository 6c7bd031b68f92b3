//! Merge-ranked byte-level BPE, as llama.cpp's `llm_tokenizer_bpe_session` runs it for GGUF
//! `gpt2` vocabularies: start from single bytes, repeatedly apply the lowest-ranked merge
//! (leftmost on ties). tiktoken ranks merges by the id of the merged token instead, which is
//! not the same order for every vocabulary, so GGUF files use this.

use super::pretokenizer::PreTokenizer;
use super::TokenId;
use rustc_hash::FxHashMap;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

#[derive(Clone, Debug)]
pub struct MergeBpe {
    pretokenizer: PreTokenizer,
    /// Token bytes to id, for the tokens BPE can produce.
    ids: FxHashMap<Vec<u8>, TokenId>,
    /// (left, right) to (rank, merged token).
    merges: FxHashMap<(TokenId, TokenId), (u32, TokenId)>,
    /// The single-byte token of each byte, where the vocabulary has one.
    byte_tokens: [Option<TokenId>; 256],
}

/// A merge rule with both sides and the result given as token bytes, in rank order.
pub struct MergeRule {
    pub left: Vec<u8>,
    pub right: Vec<u8>,
}

impl MergeBpe {
    /// Builds the merge table. A rule whose sides or result are not tokens can never fire in a
    /// consistent vocabulary; it is skipped (the count is returned) rather than refused. The
    /// first occurrence of a repeated rule keeps its rank, as in llama.cpp.
    pub fn new(
        pretokenizer: PreTokenizer,
        ids: FxHashMap<Vec<u8>, TokenId>,
        rules: impl IntoIterator<Item = MergeRule>,
    ) -> (Self, usize) {
        let mut merges = FxHashMap::default();
        let mut skipped = 0;
        let mut joined = Vec::new();
        for (rank, rule) in rules.into_iter().enumerate() {
            joined.clear();
            joined.extend_from_slice(&rule.left);
            joined.extend_from_slice(&rule.right);
            match (
                ids.get(&rule.left),
                ids.get(&rule.right),
                ids.get(joined.as_slice()),
            ) {
                (Some(&l), Some(&r), Some(&m)) => {
                    merges.entry((l, r)).or_insert((rank as u32, m));
                }
                _ => skipped += 1,
            }
        }
        let mut byte_tokens = [None; 256];
        for (b, slot) in byte_tokens.iter_mut().enumerate() {
            *slot = ids.get(&[b as u8][..]).copied();
        }
        (
            MergeBpe {
                pretokenizer,
                ids,
                merges,
                byte_tokens,
            },
            skipped,
        )
    }

    pub fn merge_count(&self) -> usize {
        self.merges.len()
    }

    /// Encodes text that holds no special tokens.
    pub fn encode(&self, text: &str, out: &mut Vec<TokenId>) {
        for piece in self.pretokenizer.split(text) {
            self.encode_piece(piece.as_bytes(), out);
        }
    }

    fn encode_piece(&self, piece: &[u8], out: &mut Vec<TokenId>) {
        if self.pretokenizer.ignores_merges() {
            if let Some(&id) = self.ids.get(piece) {
                out.push(id);
                return;
            }
        }
        #[derive(Clone, Copy)]
        struct Symbol {
            id: Option<TokenId>,
            prev: Option<usize>,
            next: Option<usize>,
            alive: bool,
        }
        let mut symbols: Vec<Symbol> = piece
            .iter()
            .enumerate()
            .map(|(i, &b)| Symbol {
                id: self.byte_tokens[b as usize],
                prev: i.checked_sub(1),
                next: (i + 1 < piece.len()).then_some(i + 1),
                alive: true,
            })
            .collect();
        // (rank, left index, left id, right id): lowest rank first, then leftmost.
        let mut queue: BinaryHeap<Reverse<(u32, usize, TokenId, TokenId)>> = BinaryHeap::new();
        let push = |queue: &mut BinaryHeap<_>, symbols: &[Symbol], left: usize| {
            let Some(right) = symbols[left].next else {
                return;
            };
            if let (Some(l), Some(r)) = (symbols[left].id, symbols[right].id) {
                if let Some(&(rank, _)) = self.merges.get(&(l, r)) {
                    queue.push(Reverse((rank, left, l, r)));
                }
            }
        };
        for i in 0..symbols.len() {
            push(&mut queue, &symbols, i);
        }
        while let Some(Reverse((_, left, l, r))) = queue.pop() {
            let sym = symbols[left];
            let Some(right) = sym.next else { continue };
            // Outdated: one side has merged since this pair was queued.
            if !sym.alive || sym.id != Some(l) || symbols[right].id != Some(r) {
                continue;
            }
            let merged = self.merges[&(l, r)].1;
            let after = symbols[right].next;
            symbols[right].alive = false;
            symbols[left].id = Some(merged);
            symbols[left].next = after;
            if let Some(a) = after {
                symbols[a].prev = Some(left);
            }
            if let Some(p) = symbols[left].prev {
                push(&mut queue, &symbols, p);
            }
            push(&mut queue, &symbols, left);
        }
        // A byte with no token of its own is dropped, as llama.cpp does; vocabularies built on
        // GPT-2's byte alphabet have all 256.
        out.extend(symbols.iter().filter(|s| s.alive).filter_map(|s| s.id));
    }
}

/// GPT-2's byte-to-character table: printable Latin-1 bytes stand for themselves, the others
/// are shifted to U+0100 onward, so that every token is printable text.
pub fn gpt2_byte_chars() -> [char; 256] {
    let mut table = ['\0'; 256];
    let mut shifted = 0u32;
    for b in 0..256u32 {
        let printable =
            (0x21..=0x7E).contains(&b) || (0xA1..=0xAC).contains(&b) || (0xAE..=0xFF).contains(&b);
        table[b as usize] = if printable {
            char::from_u32(b).unwrap_or('\0')
        } else {
            shifted += 1;
            char::from_u32(0xFF + shifted).unwrap_or('\0')
        };
    }
    table
}

/// Decodes a GPT-2-encoded token text to its bytes; `None` if a character is outside the
/// table (such a token can never come out of byte-level BPE).
pub fn gpt2_decode(text: &str, reverse: &FxHashMap<char, u8>) -> Option<Vec<u8>> {
    text.chars().map(|c| reverse.get(&c).copied()).collect()
}

pub fn gpt2_reverse_table() -> FxHashMap<char, u8> {
    gpt2_byte_chars()
        .iter()
        .enumerate()
        .map(|(b, &c)| (c, b as u8))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_table_is_gpt2s() {
        let t = gpt2_byte_chars();
        assert_eq!(t[b' ' as usize], 'Ġ');
        assert_eq!(t[b'\n' as usize], 'Ċ');
        assert_eq!(t[b'a' as usize], 'a');
        assert_eq!(t[0xAD], 'Ń');
        let rev = gpt2_reverse_table();
        assert_eq!(rev.len(), 256);
        assert_eq!(gpt2_decode("Ġhi", &rev).unwrap(), b" hi");
    }

    #[test]
    fn merges_by_rank_not_by_id() {
        // "abc": rank 0 merges b+c, so a+b (rank 1) never applies, although "ab" has the
        // lower token id.
        let mut ids = FxHashMap::default();
        for (i, t) in ["a", "b", "c", "ab", "bc", "abc"].iter().enumerate() {
            ids.insert(t.as_bytes().to_vec(), i as u32);
        }
        let rules = [("b", "c"), ("a", "b"), ("a", "bc"), ("x", "y")]
            .into_iter()
            .map(|(l, r)| MergeRule {
                left: l.into(),
                right: r.into(),
            });
        let (bpe, skipped) = MergeBpe::new(PreTokenizer::Gpt2, ids, rules);
        assert_eq!(skipped, 1);
        let mut out = Vec::new();
        bpe.encode("abc", &mut out);
        assert_eq!(out, vec![5]);
        out.clear();
        bpe.encode("ab", &mut out);
        assert_eq!(out, vec![3]);
        out.clear();
        bpe.encode("cab", &mut out);
        assert_eq!(out, vec![2, 3]);
    }
}
