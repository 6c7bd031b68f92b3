#!/usr/bin/env python3
"""A small Llama-3-architecture GGUF written by llama.cpp's own Python `gguf` package, and
float64 goldens of it, for `tests/llama3_independent.rs`.

The file (`.cache/fixtures/llama3-tiny.gguf`, ~35 MB, not committed) has Llama 3.2's
peculiarities at a small width: `rope_freqs.weight` computed as llama.cpp's converter
(`convert_hf_to_gguf.py`, `LlamaModel.generate_extra_tensors`) does for rope type `llama3`
(factor 32, low_freq_factor 1, high_freq_factor 4, original context 8192, base 500000), a tied
128256-row token embedding (no `output.weight`), the real Llama 3 tokenizer as `llama-bpe` GGUF
metadata (built from `tokenizer.json` as the converter's `_set_vocab_gpt2` does, by
`make_tokenizer_golden.llama3_vocab`), BOS 128000 / EOS 128009, and a Llama 3.2-style chat
template that writes `bos_token` itself. Width 256, FFN 768, 2 layers, 4 heads over 2 KV heads
of 64; matrices Q8_0 (the `gguf` package cannot make Q6_K), norms F32.

Weights come from a counter-based generator (splitmix64 over numpy uint64 arrays) rather than
numpy's `Generator`, whose streams numpy does not promise to keep across versions: the file,
and so its sha256 in the golden, depends only on this script, `gguf` 0.19 and IEEE arithmetic.

Modes (run from the repository root):
    python3 make_llama3_golden.py --gguf-only   # needs only gguf + numpy (`cargo xtask fixtures`)
    .cache/venv/bin/python worker/tests/golden/make_llama3_golden.py   # file + llama3_tiny.json

The golden (`llama3_tiny.json`) holds the file's sha256, the RoPE factors, and per prompt the
ids, the last-position logits of a float64 numpy Llama (`make_forward_golden.Llama`, over
weights read back and dequantized by `gguf`; top 64 and a fixed set of 512 ids) and 16 greedy
ids with each step's top-1 − top-2 margin. Prompts: a chat rendered by `jinja2` set up as
Hugging Face's `apply_chat_template` (date pinned) and tokenized by Python `tiktoken` over the
real `tokenizer.model`, a plain text tokenized the same way, and a 200-id sequence that reaches
positions where the RoPE factors matter (the script checks that ignoring them moves the logits
far beyond the test's tolerance).
"""

import hashlib
import json
import os
import sys
import zlib

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from make_tokenizer_golden import FIX, LLAMA3_PATTERN, llama3_specials, llama3_vocab  # noqa: E402

GGUF_PATH = os.path.join(FIX, "llama3-tiny.gguf")
GOLDEN = os.path.join(HERE, "llama3_tiny.json")

DIM, FFN, LAYERS, HEADS, KV_HEADS = 256, 768, 2, 4, 2
HEAD_DIM = DIM // HEADS
VOCAB = 128256
ROPE_BASE = 500000.0
RMS_EPS = 1e-5
CONTEXT = 131072
BOS, EOS = 128000, 128009
SEED = 20261126

# Standard deviation of each matrix's weights, in units of 1/sqrt(row length) (a gain of 1
# keeps activations at unit scale). Larger Q/K gains make attention sharp enough that the RoPE
# factors visibly change the logits; the small embedding keeps the tied output from simply
# echoing the last input token.
GAIN = {"attn_q": 2.0, "attn_k": 2.0, "attn_v": 1.0, "attn_output": 1.0,
        "ffn_gate": 1.0, "ffn_up": 1.0, "ffn_down": 1.0}
EMBED_STD = 0.25

# A Llama 3.2-style template (system block with the knowledge and today's date, BOS written by
# the template itself), in the whitespace-control style of Meta's.
CHAT_TEMPLATE = """{{- bos_token }}
{%- if messages[0]['role'] == 'system' %}
    {%- set system_message = messages[0]['content'] | trim %}
    {%- set messages = messages[1:] %}
{%- else %}
    {%- set system_message = '' %}
{%- endif %}
{{- '<|start_header_id|>system<|end_header_id|>\\n\\n' }}
{{- 'Cutting Knowledge Date: December 2023\\n' }}
{{- 'Today Date: ' + strftime_now('%d %b %Y') + '\\n\\n' }}
{{- system_message + '<|eot_id|>' }}
{%- for message in messages %}
    {{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + message['content'] | trim + '<|eot_id|>' }}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}
{%- endif %}
"""

CHAT_DATE = (2024, 7, 26)
CHAT = [
    {"role": "system", "content": "You are a concise assistant."},
    {"role": "user", "content": "What is the capital of France? Answer in one word."},
]
TEXT = "The quick brown fox jumps over the lazy dog. It's 2024-07-26: café, 日本語, 12345 tokens!"
LONG_PROMPT = [BOS] + [(i * 48271 + 11) % VOCAB for i in range(1, 200)]

GREEDY_STEPS = 16
TOP = 64
SUBSET = 512
# The Rust test's tolerance on last-position logits, relative to max |logit|.
REL_TOL = 1e-3


def llama3_rope_factors():
    """`LlamaModel.generate_extra_tensors` for rope type llama3, in float32 as its torch code
    computes (`torch.arange(..., dtype=torch.float32)`, then 0-d float32 tensors against Python
    scalars): numpy 2 float32 scalars follow the same promotion."""
    f32 = np.float32
    factor, low_freq_factor, high_freq_factor, old_context_len = 32.0, 1.0, 4.0, 8192
    freqs = f32(1.0) / (f32(ROPE_BASE) ** (np.arange(0, HEAD_DIM, 2, dtype=np.float32) / f32(HEAD_DIM)))
    low_freq_wavelen = old_context_len / low_freq_factor
    high_freq_wavelen = old_context_len / high_freq_factor
    factors = []
    for freq in freqs:
        wavelen = f32(2 * np.pi) / freq
        if wavelen < high_freq_wavelen:
            factors.append(1)
        elif wavelen > low_freq_wavelen:
            factors.append(factor)
        else:
            smooth = (f32(old_context_len) / wavelen - f32(low_freq_factor)) / f32(high_freq_factor - low_freq_factor)
            factors.append(f32(1) / ((f32(1) - smooth) / f32(factor) + smooth))
    return np.array(factors, dtype=np.float32)


def uniform(name, n):
    """n values uniform in [-1, 1): splitmix64 of (a per-tensor seed, index), 53-bit fractions."""
    stream = np.uint64((SEED << 32) ^ zlib.crc32(name.encode()))
    out = np.empty(n, dtype=np.float64)
    step = 1 << 22
    for lo in range(0, n, step):
        z = np.arange(lo, min(n, lo + step), dtype=np.uint64)
        z = z * np.uint64(0x9E3779B97F4A7C15) + stream
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
        out[lo:lo + len(z)] = (z >> np.uint64(11)).astype(np.float64) * 2.0**-52 - 1.0
    return out


def matrix(name, rows, cols, std):
    # Uniform in [-1, 1) has a standard deviation of 1/sqrt(3).
    return (uniform(name, rows * cols) * (std * np.sqrt(3.0))).astype(np.float32).reshape(rows, cols)


def norm(name):
    return (1.0 + 0.2 * uniform(name, DIM)).astype(np.float32)


def write_gguf(path):
    import gguf
    from gguf.quants import quantize

    tokens, types, merges = llama3_vocab()
    # tokenizer.json also lists the vision models' `<|image|>` (128256); the text model's
    # vocabulary, and its embedding, end before it.
    tokens, types = tokens[:VOCAB], types[:VOCAB]

    partial = path + ".partial"  # renamed when complete: never a half-written fixture
    w = gguf.GGUFWriter(partial, "llama")
    w.add_name("Hearth Llama 3 tiny (random weights)")
    w.add_block_count(LAYERS)
    w.add_context_length(CONTEXT)
    w.add_embedding_length(DIM)
    w.add_feed_forward_length(FFN)
    w.add_head_count(HEADS)
    w.add_head_count_kv(KV_HEADS)
    w.add_rope_freq_base(ROPE_BASE)
    w.add_layer_norm_rms_eps(RMS_EPS)
    w.add_file_type(gguf.LlamaFileType.MOSTLY_Q8_0)
    w.add_vocab_size(VOCAB)
    w.add_rope_dimension_count(HEAD_DIM)
    w.add_key_length(HEAD_DIM)
    w.add_value_length(HEAD_DIM)
    w.add_quantization_version(gguf.GGML_QUANT_VERSION)
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("llama-bpe")
    w.add_token_list(tokens)
    w.add_token_types(types)
    w.add_token_merges(merges)
    w.add_bos_token_id(BOS)
    w.add_eos_token_id(EOS)
    # As Llama 3.x GGUFs: the vocabulary asks for BOS, and the template writes it; a correct
    # engine still puts exactly one.
    w.add_add_bos_token(True)
    w.add_chat_template(CHAT_TEMPLATE)

    def q8(name, rows, cols, std):
        w.add_tensor(name, quantize(matrix(name, rows, cols, std), gguf.GGMLQuantizationType.Q8_0),
                     raw_dtype=gguf.GGMLQuantizationType.Q8_0)

    # The converter yields its extra tensors (rope_freqs) before the model's.
    w.add_tensor("rope_freqs.weight", llama3_rope_factors())
    q8("token_embd.weight", VOCAB, DIM, EMBED_STD)
    kv_dim = KV_HEADS * HEAD_DIM
    for l in range(LAYERS):
        b = f"blk.{l}."
        w.add_tensor(b + "attn_norm.weight", norm(b + "attn_norm"))
        for t, rows, cols in [("attn_q", DIM, DIM), ("attn_k", kv_dim, DIM), ("attn_v", kv_dim, DIM),
                              ("attn_output", DIM, DIM)]:
            q8(b + t + ".weight", rows, cols, GAIN[t] / np.sqrt(cols))
        w.add_tensor(b + "ffn_norm.weight", norm(b + "ffn_norm"))
        for t, rows, cols in [("ffn_gate", FFN, DIM), ("ffn_up", FFN, DIM), ("ffn_down", DIM, FFN)]:
            q8(b + t + ".weight", rows, cols, GAIN[t] / np.sqrt(cols))
    w.add_tensor("output_norm.weight", norm("output_norm"))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    os.replace(partial, path)


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def render_chat():
    """The chat as HF's apply_chat_template renders it (see make_chat_golden.py)."""
    from datetime import datetime

    from jinja2.ext import loopcontrols
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols])
    env.globals["strftime_now"] = lambda fmt: datetime(*CHAT_DATE).strftime(fmt)
    return env.from_string(CHAT_TEMPLATE).render(
        messages=CHAT, add_generation_prompt=True, bos_token="<|begin_of_text|>",
        eos_token="<|eot_id|>",
    )


def tiktoken_encoding():
    import tiktoken
    from tiktoken.load import load_tiktoken_bpe

    ranks = load_tiktoken_bpe(os.path.join(FIX, "llama3.2-tokenizer.model"))
    return tiktoken.Encoding(name="llama3.2", pat_str=LLAMA3_PATTERN, mergeable_ranks=ranks,
                             special_tokens=llama3_specials())


def top2_margin(logits):
    a = np.sort(logits)[-2:]
    return float(a[1] - a[0])


def golden():
    from make_forward_golden import Llama

    write_gguf(GGUF_PATH)
    digest = sha256(GGUF_PATH)
    print("wrote", GGUF_PATH, os.path.getsize(GGUF_PATH), "bytes, sha256", digest, flush=True)

    enc = tiktoken_encoding()
    rendered = render_chat()
    chat_ids = enc.encode(rendered, allowed_special="all")
    assert chat_ids.count(BOS) == 1 and chat_ids[0] == BOS, chat_ids[:4]
    text_ids = enc.encode(TEXT, disallowed_special=())
    prompts = [
        {"name": "chat", "ids": chat_ids},
        {"name": "text", "ids": [BOS] + text_ids},
        {"name": "long_ids", "ids": LONG_PROMPT},
    ]

    model = Llama(GGUF_PATH)
    assert model.out is model.w["token_embd.weight"], "the embedding must be tied"
    factors = llama3_rope_factors()
    plain_inv_freq = ROPE_BASE ** (-2.0 * np.arange(HEAD_DIM // 2) / HEAD_DIM)
    subset = sorted(int(i) for i in np.random.default_rng(SEED).choice(VOCAB, SUBSET - 2, replace=False))
    subset = sorted(set(subset) | {65535, VOCAB - 1})  # both sides of one grid row; the last row
    cases = []
    for p in prompts:
        model.reset()
        logits = model.forward(p["ids"])
        max_abs = float(np.abs(logits).max())
        # How far the logits move if the RoPE factors were ignored: the test can only catch a
        # wrong use of them if this is well beyond its tolerance.
        scaled = model.inv_freq
        model.inv_freq = plain_inv_freq
        model.reset()
        unscaled = model.forward(p["ids"])
        model.inv_freq = scaled
        rope_effect = float(np.abs(unscaled - logits).max())
        model.reset()
        model.forward(p["ids"])
        top = np.argsort(-logits, kind="stable")[:TOP]
        greedy, margins, step = [], [], logits
        for _ in range(GREEDY_STEPS):
            nxt = int(np.argmax(step))
            greedy.append(nxt)
            margins.append(round(top2_margin(step), 6))
            step = model.forward([nxt])
        cases.append({
            "prompt": p["name"],
            "ids": [int(i) for i in p["ids"]],
            "max_abs_logit": max_abs,
            "top_ids": [int(i) for i in top],
            "top_logits": [round(float(logits[i]), 6) for i in top],
            "subset_logits": [round(float(logits[i]), 6) for i in subset],
            "greedy_ids": greedy,
            "greedy_margins": margins,
            "max_logit_change_without_rope_factors": round(rope_effect, 6),
        })
        print(p["name"], len(p["ids"]), "tokens; max|logit|", round(max_abs, 3), "greedy", greedy,
              "min margin", min(margins), "rope-factor effect", round(rope_effect, 4), flush=True)
    longest = cases[-1]
    assert longest["max_logit_change_without_rope_factors"] > 10 * REL_TOL * longest["max_abs_logit"], \
        "the RoPE factors barely change the logits: the test could not tell if they are used"

    out = {
        "about": "make_llama3_golden.py: a gguf-package-written Llama 3 GGUF and a float64 numpy forward over it",
        "file": os.path.basename(GGUF_PATH),
        "file_sha256": digest,
        "file_bytes": os.path.getsize(GGUF_PATH),
        "config": {"dim": DIM, "ffn": FFN, "layers": LAYERS, "heads": HEADS, "kv_heads": KV_HEADS,
                   "vocab": VOCAB, "rope_base": ROPE_BASE, "context": CONTEXT},
        "rope_freqs": [float(f) for f in factors],
        "chat": {"date": list(CHAT_DATE), "messages": CHAT, "rendered": rendered, "ids": chat_ids},
        "text": {"text": TEXT, "ids": text_ids},
        "subset_ids": subset,
        "cases": cases,
    }
    with open(GOLDEN, "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False, separators=(",", ":"))
        f.write("\n")
    print("wrote", GOLDEN, os.path.getsize(GOLDEN), "bytes")


if __name__ == "__main__":
    args = sys.argv[1:]
    if "--gguf-only" in args:
        path = args[args.index("--out") + 1] if "--out" in args else GGUF_PATH
        write_gguf(path)
        print("wrote", path, sha256(path))
    else:
        golden()
