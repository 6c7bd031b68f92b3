#!/usr/bin/env python3
"""Float64 oracle of the Llama forward pass for `tests/cpu_reference.rs`.

A plain numpy Llama written from the model definition (Llama: RMSNorm, RoPE on adjacent pairs
as GGUF stores Q/K, grouped-query attention, SwiGLU, tied embeddings), over weights that the
PyPI `gguf` package (0.19) dequantizes exactly as ggml does. Everything after dequantization is
float64, so this is the reference both our f32 CPU path and llama.cpp are measured against.

Inputs (after `cargo xtask fixtures`): `.cache/fixtures/SmolLM2-135M-Instruct.Q6_K.gguf` and
`.F32.gguf`. Prompts are tokenized by llama.cpp (`llama-cpp-python`, vocab only); the ids are
stored in the golden, so the Rust test does not depend on our tokenizer.

Output: `forward.json` with, per model and prompt, the last-position logits (top-64 ids and
logits, the logits of a fixed pseudo-random set of 2048 ids, max |logit|) and 16 greedy ids with
the top-1 minus top-2 logit margin at each step. As a second, independent check, llama.cpp runs
the F32 file (F32 KV cache) and its agreement with float64 is recorded under `llama_cpp_check`.

Run: .cache/venv/bin/python worker/tests/golden/make_forward_golden.py
"""

import json
import os
import sys

import jinja2
import numpy as np
from gguf import GGUFReader
from gguf.quants import dequantize

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
FIXTURES = os.path.join(ROOT, ".cache", "fixtures")
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "forward.json")
MODELS = ["SmolLM2-135M-Instruct.Q6_K.gguf", "SmolLM2-135M-Instruct.F32.gguf"]
GREEDY_STEPS = 16
TOP = 64
SUBSET = 2048

PROMPTS = [
    {"name": "chat_capital", "chat": "What is the capital of France?"},
    {"name": "raw_story", "raw": "The quick brown fox jumps over the lazy dog. Once upon a time, in a small village,"},
    {"name": "chat_haiku", "chat": "Write a haiku about the sea."},
]


def field(reader, key):
    f = reader.fields.get(key)
    return None if f is None else f.contents()


class Llama:
    def __init__(self, path):
        r = GGUFReader(path)
        arch = field(r, "general.architecture")
        assert arch == "llama", arch
        g = lambda k, d=None: field(r, f"llama.{k}") if field(r, f"llama.{k}") is not None else d
        self.n_layers = int(g("block_count"))
        self.dim = int(g("embedding_length"))
        self.n_heads = int(g("attention.head_count"))
        self.n_kv = int(g("attention.head_count_kv", self.n_heads))
        self.head_dim = self.dim // self.n_heads
        self.rope_base = float(g("rope.freq_base", 10000.0))
        self.rope_dims = int(g("rope.dimension_count", self.head_dim))
        self.eps = float(g("attention.layer_norm_rms_epsilon"))
        self.w = {}
        for t in r.tensors:
            a = dequantize(t.data, t.tensor_type)
            # numpy shape is GGUF dims reversed: (rows, cols) for a matrix.
            shape = tuple(int(d) for d in reversed(t.shape))
            self.w[t.name] = np.asarray(a, dtype=np.float64).reshape(shape)
        self.out = self.w.get("output.weight", self.w["token_embd.weight"])
        ff = self.w.get("rope_freqs.weight")
        i = np.arange(self.rope_dims // 2, dtype=np.float64)
        self.inv_freq = self.rope_base ** (-2.0 * i / self.rope_dims)
        if ff is not None:
            self.inv_freq = self.inv_freq / ff
        self.reset()

    def reset(self):
        self.k = [np.zeros((0, self.n_kv, self.head_dim)) for _ in range(self.n_layers)]
        self.v = [np.zeros((0, self.n_kv, self.head_dim)) for _ in range(self.n_layers)]

    def rmsnorm(self, x, w):
        return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + self.eps) * w

    def rope(self, x, positions):
        # x: (T, heads, head_dim). Pairs (2i, 2i+1) of the first rope_dims dims rotate by
        # pos * inv_freq[i].
        ang = positions[:, None].astype(np.float64) * self.inv_freq[None, :]
        cos, sin = np.cos(ang)[:, None, :], np.sin(ang)[:, None, :]
        y = x.copy()
        a = x[:, :, 0 : self.rope_dims : 2]
        b = x[:, :, 1 : self.rope_dims : 2]
        y[:, :, 0 : self.rope_dims : 2] = a * cos - b * sin
        y[:, :, 1 : self.rope_dims : 2] = a * sin + b * cos
        return y

    def forward(self, ids):
        """Runs `ids` after the cached positions; returns the last position's logits."""
        start = self.k[0].shape[0]
        T = len(ids)
        pos = np.arange(start, start + T)
        x = self.w["token_embd.weight"][np.array(ids)]
        group = self.n_heads // self.n_kv
        for l in range(self.n_layers):
            p = f"blk.{l}."
            h = self.rmsnorm(x, self.w[p + "attn_norm.weight"])
            q = (h @ self.w[p + "attn_q.weight"].T).reshape(T, self.n_heads, self.head_dim)
            k = (h @ self.w[p + "attn_k.weight"].T).reshape(T, self.n_kv, self.head_dim)
            v = (h @ self.w[p + "attn_v.weight"].T).reshape(T, self.n_kv, self.head_dim)
            q, k = self.rope(q, pos), self.rope(k, pos)
            self.k[l] = np.concatenate([self.k[l], k])
            self.v[l] = np.concatenate([self.v[l], v])
            S = self.k[l].shape[0]
            kk = np.repeat(self.k[l], group, axis=1)  # (S, n_heads, hd): head h uses kv h//group
            vv = np.repeat(self.v[l], group, axis=1)
            scores = np.einsum("thd,shd->hts", q, kk) / np.sqrt(self.head_dim)
            mask = pos[:, None] < np.arange(S)[None, :]
            scores = np.where(mask[None], -np.inf, scores)
            scores -= scores.max(axis=-1, keepdims=True)
            pr = np.exp(scores)
            pr /= pr.sum(axis=-1, keepdims=True)
            att = np.einsum("hts,shd->thd", pr, vv).reshape(T, self.n_heads * self.head_dim)
            x = x + att @ self.w[p + "attn_output.weight"].T
            h = self.rmsnorm(x, self.w[p + "ffn_norm.weight"])
            gate = h @ self.w[p + "ffn_gate.weight"].T
            up = h @ self.w[p + "ffn_up.weight"].T
            x = x + (gate / (1.0 + np.exp(-gate)) * up) @ self.w[p + "ffn_down.weight"].T
        last = self.rmsnorm(x[-1], self.w["output_norm.weight"])
        return self.out @ last


def prompt_ids(vocab, template, bos, eos):
    out = []
    for p in PROMPTS:
        if "chat" in p:
            text = template.render(
                messages=[{"role": "user", "content": p["chat"]}],
                add_generation_prompt=True,
                bos_token=bos,
                eos_token=eos,
            )
            ids = vocab.tokenize(text.encode(), add_bos=False, special=True)
        else:
            text = p["raw"]
            ids = vocab.tokenize(text.encode(), add_bos=False, special=False)
        out.append({"name": p["name"], "text": text, "ids": [int(i) for i in ids]})
    return out


def top2_margin(logits):
    a = np.sort(logits)[-2:]
    return float(a[1] - a[0])


def main():
    from llama_cpp import Llama as LlamaCpp

    paths = [os.path.join(FIXTURES, m) for m in MODELS]
    for p in paths:
        if not os.path.exists(p):
            sys.exit(f"{p} is missing: run `cargo xtask fixtures`")
    r = GGUFReader(paths[0])
    tokens = field(r, "tokenizer.ggml.tokens")
    bos = tokens[int(field(r, "tokenizer.ggml.bos_token_id"))]
    eos = tokens[int(field(r, "tokenizer.ggml.eos_token_id"))]
    env = jinja2.Environment(trim_blocks=True, lstrip_blocks=True)
    template = env.from_string(field(r, "tokenizer.chat_template"))
    vocab_size = len(tokens)
    del r
    vocab = LlamaCpp(model_path=paths[0], vocab_only=True, verbose=False)
    prompts = prompt_ids(vocab, template, bos, eos)
    del vocab
    subset = sorted(int(i) for i in np.random.default_rng(20261126).choice(vocab_size, SUBSET, replace=False))

    golden = {
        "about": "float64 numpy Llama over gguf-dequantized weights; see make_forward_golden.py",
        "subset_ids": subset,
        "prompts": prompts,
        "models": {},
    }
    f64_f32file = {}
    for name, path in zip(MODELS, paths):
        model = Llama(path)
        cases = []
        for p in prompts:
            model.reset()
            logits = model.forward(p["ids"])
            if name.endswith("F32.gguf"):
                f64_f32file[p["name"]] = logits.copy()
            top = np.argsort(-logits, kind="stable")[:TOP]
            greedy, margins = [], []
            step = logits
            for _ in range(GREEDY_STEPS):
                nxt = int(np.argmax(step))
                greedy.append(nxt)
                margins.append(round(top2_margin(step), 6))
                step = model.forward([nxt])
            cases.append(
                {
                    "prompt": p["name"],
                    "max_abs_logit": float(np.abs(logits).max()),
                    "top_ids": [int(i) for i in top],
                    "top_logits": [round(float(logits[i]), 6) for i in top],
                    "subset_logits": [round(float(logits[i]), 6) for i in subset],
                    "greedy_ids": greedy,
                    "greedy_margins": margins,
                }
            )
            print(name, p["name"], len(p["ids"]), "tokens; greedy", greedy, "min margin", min(margins), flush=True)
        golden["models"][name] = cases
        del model

    # Second opinion: llama.cpp on the all-F32 file, F32 KV cache, every position's logits.
    llm = LlamaCpp(
        model_path=paths[1], n_ctx=512, n_batch=512, logits_all=True, type_k=0, type_v=0,
        n_threads=2, verbose=False,
    )
    check = []
    f32_cases = {c["prompt"]: c for c in golden["models"][MODELS[1]]}
    for p in prompts:
        llm.reset()
        llm.eval(p["ids"])
        lc = np.array(llm.scores[llm.n_tokens - 1], dtype=np.float64)
        ref = f64_f32file[p["name"]]
        ids = []
        for _ in range(GREEDY_STEPS):
            nxt = int(np.argmax(llm.scores[llm.n_tokens - 1]))
            ids.append(nxt)
            llm.eval([nxt])
        want = f32_cases[p["name"]]["greedy_ids"]
        same = next((i for i, (a, b) in enumerate(zip(ids, want)) if a != b), len(want))
        check.append(
            {
                "prompt": p["name"],
                "max_abs_diff": float(np.abs(lc - ref).max()),
                "max_abs_logit": float(np.abs(ref).max()),
                "greedy_equal_prefix": same,
            }
        )
        print("llama.cpp vs float64 (F32 file):", check[-1], flush=True)
    golden["llama_cpp_check"] = check

    with open(OUT, "w") as f:
        json.dump(golden, f, separators=(",", ":"))
        f.write("\n")
    print("wrote", OUT, os.path.getsize(OUT), "bytes")


if __name__ == "__main__":
    main()
