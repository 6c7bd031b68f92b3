//! Token ids against independent implementations, on real vocabularies (goldens and the
//! scripts that made them are in `tests/golden/`; the files come from `cargo xtask fixtures`).

use hearth_worker::gguf::GgufHeader;
use hearth_worker::tokenizer::gguf_vocab::GgufVocab;
use hearth_worker::tokenizer::Tokenizer;
use serde_json::Value;

mod common;
use common::{fixture, golden};

/// (text, ids) pairs of one section of a golden file.
fn cases(golden: &Value, section: &str) -> Vec<(String, Vec<u32>)> {
    golden[section]
        .as_array()
        .expect("section")
        .iter()
        .map(|c| {
            let text = c["text"].as_str().expect("text").to_string();
            let ids = c["ids"]
                .as_array()
                .expect("ids")
                .iter()
                .map(|i| i.as_u64().expect("id") as u32)
                .collect();
            (text, ids)
        })
        .collect()
}

fn check(
    tokenizer: &Tokenizer,
    golden: &Value,
    section: &str,
    encode: fn(&Tokenizer, &str) -> Vec<u32>,
) -> usize {
    let cases = cases(golden, section);
    let mut mismatches = Vec::new();
    for (text, expected) in &cases {
        let got = encode(tokenizer, text);
        if &got != expected {
            mismatches.push(format!("{text:?}: got {got:?}, want {expected:?}"));
        }
        // Decoding gives the text back.
        assert_eq!(&tokenizer.decode(&got).unwrap(), text);
    }
    assert!(
        mismatches.is_empty(),
        "{} of {} differ from {}:\n{}",
        mismatches.len(),
        cases.len(),
        golden["reference"],
        mismatches.join("\n")
    );
    cases.len()
}

fn llama3_tiktoken() -> Tokenizer {
    let data = std::fs::read(fixture("llama3.2-tokenizer.model")).unwrap();
    Tokenizer::llama3_from_tiktoken(&data).unwrap()
}

#[test]
fn llama3_tokenizer_model_matches_python_tiktoken() {
    let t = llama3_tiktoken();
    assert_eq!(t.vocab_size(), 128_256);
    let g = golden("llama3_tiktoken.json");
    assert!(check(&t, &g, "plain", Tokenizer::encode) >= 100);
    check(&t, &g, "special", Tokenizer::encode_with_specials);
    // What a user typed never becomes a control token.
    assert!(t.encode("<|eot_id|>").iter().all(|&id| id < 128_000));
    assert_eq!(t.encode_with_specials("<|eot_id|>"), vec![128_009]);
}

#[test]
fn smollm2_gguf_matches_llama_cpp() {
    let file = std::fs::File::open(fixture("SmolLM2-135M-Instruct.Q4_1.gguf")).unwrap();
    let header = GgufHeader::read_from(std::io::BufReader::new(file), None).unwrap();
    let t = Tokenizer::from_gguf(&header).unwrap();
    assert_eq!(t.vocab_size(), 49_152);
    let g = golden("smollm2_llama_cpp.json");
    assert!(check(&t, &g, "plain", Tokenizer::encode) >= 100);
    check(&t, &g, "special", Tokenizer::encode_with_specials);
    // SmolLM2 adds no BOS; `<|im_end|>` (2) ends a reply.
    assert!(!t.adds_bos());
    assert!(t.is_end_of_generation(2));
}

/// What llama.cpp's converter (`_set_vocab_gpt2`) writes into a GGUF for a Llama 3
/// `tokenizer.json`.
fn llama3_vocab_from_tokenizer_json() -> GgufVocab {
    let text = std::fs::read_to_string(fixture("llama3.2-tokenizer.json")).unwrap();
    let vocab = GgufVocab::from_tokenizer_json(&text, "llama-bpe").unwrap();
    assert_eq!((vocab.bos, vocab.eos), (Some(128_000), Some(128_009)));
    vocab
}

#[test]
fn llama3_gguf_vocabulary_matches_python_tiktoken() {
    let vocab = llama3_vocab_from_tokenizer_json();
    let t = Tokenizer::from_gguf_vocab(&vocab).unwrap();
    let g = golden("llama3_tiktoken.json");
    assert!(check(&t, &g, "plain", Tokenizer::encode) >= 100);
    check(&t, &g, "special", Tokenizer::encode_with_specials);
    assert!(t.adds_bos());

    // The same vocabulary as llama.cpp's Python `gguf` package wrote it (`cargo xtask
    // fixtures` runs make_tokenizer_golden.py's `gguf` step).
    let bytes = std::fs::read(fixture("llama3-vocab.gguf")).unwrap();
    let header = GgufHeader::parse(&bytes).unwrap();
    let from_file = GgufVocab::from_header(&header).unwrap();
    assert_eq!(from_file.tokens, vocab.tokens);
    assert_eq!(from_file.token_types, vocab.token_types);
    assert_eq!(from_file.merges, vocab.merges);
    let t = Tokenizer::from_gguf(&header).unwrap();
    assert!(check(&t, &g, "plain", Tokenizer::encode) >= 100);
    check(&t, &g, "special", Tokenizer::encode_with_specials);
}

#[test]
fn streaming_decode_matches_whole_decode() {
    let t = llama3_tiktoken();
    let text = "Emoji 👨‍👩‍👧‍👦 and 日本語 and café ✓";
    let ids = t.encode(text);
    let mut stream = t.stream_decoder();
    let mut out = String::new();
    for id in &ids {
        let piece = stream.push(*id).unwrap();
        assert!(!piece.contains('\u{FFFD}'), "half a character emitted");
        out.push_str(&piece);
    }
    out.push_str(&stream.finish());
    assert_eq!(out, text);
    assert!(stream.push(999_999).is_err());
    assert!(t.decode(&[128_256]).is_err());
}

#[test]
fn pathological_input_does_not_panic() {
    let t = llama3_tiktoken();
    for text in [
        " ".repeat(200_000),
        "\n".repeat(50_000),
        "a".repeat(100_000),
        "1".repeat(10_000),
        "😀".repeat(10_000),
        "! ".repeat(20_000),
    ] {
        let ids = t.encode(&text);
        assert_eq!(t.decode(&ids).unwrap(), text);
    }
}
