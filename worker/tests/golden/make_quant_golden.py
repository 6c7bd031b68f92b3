#!/usr/bin/env python3
"""Golden data for hearth-worker's GGUF and quantization tests, from independent references:

- the `gguf` Python package 0.19 (llama.cpp's own reader and dequantizers, numpy): the header of
  the real SmolLM2-135M-Instruct Q4_1 file, and dequantized values of its tensors and of
  synthetic blocks of every other type we decode;
- llama.cpp's quantizer `ggml_quantize_chunk`, called through ctypes on the libggml-base that
  PyPI `llama-cpp-python` 0.3.36 builds: Q6_K and Q8_0 bytes, and their round-trip error, for
  real weights and adversarial synthetic blocks.

The Rust tests only read the files written here; CI never runs Python. Regenerate with:

    cargo xtask fixtures                      # the SmolLM2 GGUF, into .cache/fixtures/
    python3 -m venv .cache/venv
    .cache/venv/bin/pip install numpy 'gguf==0.19.*'
    CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON \
      -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF -DLLAMA_BUILD_TESTS=OFF \
      -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_CURL=OFF" .cache/venv/bin/pip install llama-cpp-python==0.3.36
    .cache/venv/bin/python worker/tests/golden/make_quant_golden.py

Binary data is stored as hex strings (little-endian). Large arrays are summarised by
`checksum()`, which the Rust tests compute the same way.
"""

import ctypes
import json
import pathlib
import sys

import numpy as np
import gguf
from gguf import GGMLQuantizationType as T
from gguf.quants import dequantize

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent.parent.parent
MODEL = ROOT / ".cache/fixtures/SmolLM2-135M-Instruct.Q4_1.gguf"
MASK = (1 << 64) - 1


def checksum(words: np.ndarray) -> str:
    """sum over i of (w_i + 1) * (2i + 1), mod 2^64, as 16 hex digits. `words` are unsigned
    integers (bytes, or f32 bit patterns). Every odd multiplier is invertible mod 2^64, so
    changing any one word changes the sum."""
    w = words.astype(np.uint64).ravel()
    idx = np.arange(w.size, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
    with np.errstate(over="ignore"):
        s = ((w + np.uint64(1)) * idx).sum(dtype=np.uint64)
    return f"{int(s) & MASK:016x}"


def f32_hex(a: np.ndarray) -> str:
    return np.ascontiguousarray(a, dtype="<f4").tobytes().hex()


def f32_bits(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a, dtype="<f4").view("<u4")


# --- llama.cpp's quantizer -------------------------------------------------------------------

def load_ggml():
    import llama_cpp

    lib = pathlib.Path(llama_cpp.__file__).parent / "lib" / "libggml-base.so"
    ggml = ctypes.CDLL(str(lib))
    ggml.ggml_quantize_chunk.restype = ctypes.c_size_t
    ggml.ggml_quantize_chunk.argtypes = [
        ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p,
        ctypes.c_int64, ctypes.c_int64, ctypes.c_int64, ctypes.c_void_p,
    ]
    ggml.ggml_row_size.restype = ctypes.c_size_t
    ggml.ggml_row_size.argtypes = [ctypes.c_int, ctypes.c_int64]
    return ggml, llama_cpp.__version__


def ggml_quantize(ggml, qtype: T, x: np.ndarray, n_per_row: int) -> np.ndarray:
    x = np.ascontiguousarray(x, dtype=np.float32).ravel()
    nrows = x.size // n_per_row
    assert nrows * n_per_row == x.size
    out = np.zeros(ggml.ggml_row_size(int(qtype), n_per_row) * nrows, dtype=np.uint8)
    n = ggml.ggml_quantize_chunk(int(qtype), x.ctypes.data, out.ctypes.data, 0, nrows, n_per_row, None)
    assert n == out.size, (n, out.size)
    return out


def round_trip_error(x: np.ndarray, q: np.ndarray, qtype: T) -> dict:
    y = dequantize(q, qtype).astype(np.float64).ravel()
    d = y - x.astype(np.float64).ravel()
    return {"rms": float(np.sqrt(np.mean(d * d))), "max": float(np.max(np.abs(d)))}


# --- header ----------------------------------------------------------------------------------

def value_summary(field) -> dict:
    types = [int(t) for t in field.types]
    if types[0] != int(gguf.GGUFValueType.ARRAY):
        v = field.contents()
        if types[0] == int(gguf.GGUFValueType.FLOAT32):
            return {"type": types[0], "f32_bits": int(np.float32(v).view(np.uint32))}
        if types[0] == int(gguf.GGUFValueType.FLOAT64):
            return {"type": types[0], "f64_bits": int(np.float64(v).view(np.uint64))}
        if types[0] == int(gguf.GGUFValueType.BOOL):
            return {"type": types[0], "value": bool(v)}
        return {"type": types[0], "value": v}
    items = field.contents()
    out = {"type": types[0], "elem_type": types[1], "len": len(items)}
    if types[1] == int(gguf.GGUFValueType.STRING):
        out["head"] = items[:5]
        out["tail"] = items[-2:]
        joined = b"".join(s.encode("utf-8") + b"\xff" for s in items)
        out["checksum"] = checksum(np.frombuffer(joined, dtype=np.uint8))
    elif types[1] == int(gguf.GGUFValueType.ARRAY):
        raise SystemExit(f"nested arrays are not summarised ({field.name})")
    else:
        # The raw little-endian bytes of the elements.
        raw = b"".join(field.parts[i].tobytes() for i in field.data)
        out["head"] = [x.item() if hasattr(x, "item") else x for x in items[:5]]
        out["checksum"] = checksum(np.frombuffer(raw, dtype=np.uint8))
    return out


def header_golden(r: gguf.GGUFReader) -> dict:
    meta = {k: value_summary(f) for k, f in r.fields.items() if not k.startswith("GGUF.")}
    tensors = [
        {
            "name": t.name,
            "dims": [int(d) for d in t.shape],
            "type": int(t.tensor_type),
            # The reader reports absolute offsets; GGUF stores them relative to the data section.
            "offset": int(t.data_offset) - int(r.data_offset),
            "n_bytes": int(t.n_bytes),
        }
        for t in r.tensors
    ]
    return {
        "version": int(r.fields["GGUF.version"].contents()),
        "alignment": int(r.alignment),
        "data_offset": int(r.data_offset),
        "kv_count": len(meta),
        "metadata_order": list(meta.keys()),
        "metadata": meta,
        "tensors": tensors,
    }


# --- dequantization --------------------------------------------------------------------------

def real_dequant(r: gguf.GGUFReader) -> dict:
    """Every tensor of the file, dequantized by `gguf`: a checksum of the f32 bits of the whole
    tensor, and the first row in full."""
    out = []
    for t in r.tensors:
        y = dequantize(t.data, t.tensor_type).astype(np.float32).reshape(-1, int(t.shape[0]))
        out.append({
            "name": t.name,
            "type": int(t.tensor_type),
            "checksum": checksum(f32_bits(y)),
            "first_row": f32_hex(y[0]) if t.name in ("blk.0.attn_q.weight", "token_embd.weight", "blk.0.attn_norm.weight") else None,
        })
    return out


def synthetic_blocks(rng, qtype: T, n_blocks: int) -> np.ndarray:
    """Random block bytes with sane f16 scales (random bytes there would be inf/NaN or huge)."""
    block, size = gguf.GGML_QUANT_SIZES[qtype]
    raw = rng.integers(0, 256, size=(n_blocks, size), dtype=np.uint8)

    def scales(n):
        s = (rng.standard_normal(n) * 0.01).astype(np.float16)
        s[0] = np.float16(6e-8)  # f16 subnormal
        if n > 2:
            s[1] = np.float16(0.0)
            s[2] = np.float16(-0.03)
        return s.view(np.uint8).reshape(n, 2)

    if qtype in (T.Q4_0, T.Q8_0):
        raw[:, 0:2] = scales(n_blocks)
    elif qtype == T.Q4_1 or qtype in (T.Q4_K, T.Q5_K):
        raw[:, 0:2] = scales(n_blocks)
        raw[:, 2:4] = scales(n_blocks)
    elif qtype == T.Q6_K:
        raw[:, 208:210] = scales(n_blocks)
    return raw


def synthetic_dequant(rng) -> list:
    cases = []
    for qtype, n in [(T.Q4_0, 8), (T.Q4_1, 8), (T.Q8_0, 8), (T.Q4_K, 4), (T.Q5_K, 4), (T.Q6_K, 4)]:
        raw = synthetic_blocks(rng, qtype, n)
        y = dequantize(raw, qtype).astype(np.float32)
        cases.append({"type": int(qtype), "bytes": raw.tobytes().hex(), "f32": f32_hex(y)})
    for qtype in (T.F16, T.BF16):
        bits = rng.integers(0, 1 << 16, size=512, dtype=np.uint16)
        # Specials: ±0, ±inf, a NaN, the smallest subnormal, the largest finite value.
        if qtype == T.F16:
            bits[:7] = [0x0000, 0x8000, 0x7C00, 0xFC00, 0x7E00, 0x0001, 0x7BFF]
        else:
            bits[:7] = [0x0000, 0x8000, 0x7F80, 0xFF80, 0x7FC0, 0x0001, 0x7F7F]
        raw = bits.astype("<u2").view(np.uint8)
        y = dequantize(raw, qtype).astype(np.float32)
        cases.append({"type": int(qtype), "bytes": raw.tobytes().hex(), "f32": f32_hex(y)})
    return cases


# --- quantization ----------------------------------------------------------------------------

def synthetic_inputs(rng) -> list:
    """Blocks of 256 weights that stress the quantizers' edge cases."""
    g = lambda s=1.0: (rng.standard_normal(256) * s).astype(np.float32)
    cases = {
        "gaussian": g(0.02),
        "outliers": np.where(rng.random(256) < 0.02, g(0.5), g(0.02)).astype(np.float32),
        "zeros": np.zeros(256, np.float32),
        "one_zero_group": np.concatenate([np.zeros(16), g(0.1)[16:]]).astype(np.float32),
        "tiny": g(1e-7),
        "below_eps": g(1e-20),
        "constant": np.full(256, 0.5, np.float32),
        "constant_negative": np.full(256, -3.0, np.float32),
        "uniform": rng.uniform(-1, 1, 256).astype(np.float32),
        "positive": np.abs(g(0.05)),
        "ties": (rng.integers(-64, 64, 256) / np.float32(64.0)).astype(np.float32),
        "halves": (rng.integers(-40, 40, 256) + np.float32(0.5)).astype(np.float32),
        "laplace": rng.laplace(0, 0.03, 256).astype(np.float32),
        "wide_range": (g(1.0) * np.float32(10.0) ** rng.integers(-6, 4, 256)).astype(np.float32),
        "large": g(3000.0),
        "one_spike": np.where(np.arange(256) == 77, np.float32(5.0), g(1e-3)).astype(np.float32),
    }
    return list(cases.items())


def quant_goldens(ggml, r: gguf.GGUFReader, rng) -> dict:
    synthetic = []
    for name, x in synthetic_inputs(rng):
        case = {"name": name, "input": f32_hex(x)}
        for qtype, key in ((T.Q6_K, "q6_k"), (T.Q8_0, "q8_0")):
            q = ggml_quantize(ggml, qtype, x, 256)
            case[key] = q.tobytes().hex()
        synthetic.append(case)

    by_name = {t.name: t for t in r.tensors}

    def weights(name, rows=None):
        t = by_name[name]
        y = dequantize(t.data, t.tensor_type).astype(np.float32).reshape(-1, int(t.shape[0]))
        return y if rows is None else y[:rows]

    # (tensor, rows or None for all, n_per_row for the quantizer). Q6_K needs rows of a multiple
    # of 256: only ffn_down (1536) has them in SmolLM2; other tensors are cut into rows of 256
    # to put more real weights through the same code.
    real = []
    plan = [
        ("blk.0.ffn_down.weight", None, None, [T.Q6_K, T.Q8_0]),
        ("blk.15.ffn_down.weight", None, None, [T.Q6_K]),
        ("blk.29.ffn_down.weight", None, None, [T.Q6_K]),
        ("blk.0.attn_q.weight", None, 256, [T.Q6_K, T.Q8_0]),
        ("token_embd.weight", 1024, 256, [T.Q6_K]),
        ("token_embd.weight", None, None, [T.Q8_0]),
        ("blk.7.ffn_gate.weight", None, None, [T.Q8_0]),
        ("blk.3.attn_k.weight", None, None, [T.Q8_0]),
    ]
    for name, rows, n_per_row, qtypes in plan:
        x = weights(name, rows)
        n_per_row = n_per_row or x.shape[1]
        for qtype in qtypes:
            q = ggml_quantize(ggml, qtype, x, n_per_row)
            real.append({
                "tensor": name,
                "rows": x.shape[0],
                "n_per_row": n_per_row,
                "type": int(qtype),
                "bytes_checksum": checksum(q),
                "n_bytes": int(q.size),
                "first_block": q[: gguf.GGML_QUANT_SIZES[qtype][1]].tobytes().hex(),
                "error": round_trip_error(x, q, qtype),
            })
            print(f"  {name} rows={x.shape[0]} {qtype.name}: {real[-1]['error']}")
    return {"synthetic": synthetic, "real": real}


def main():
    model = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else MODEL
    if not model.exists():
        raise SystemExit(f"{model} is missing: run `cargo xtask fixtures` first")
    r = gguf.GGUFReader(str(model))
    rng = np.random.default_rng(20261126)
    ggml, llama_version = load_ggml()
    sources = {
        "model": model.name,
        "gguf": getattr(gguf, "__version__", None) or "0.19",
        "numpy": np.__version__,
        "llama_cpp_python": llama_version,
    }

    header = header_golden(r)
    header["sources"] = sources
    (HERE / "smollm2_header.json").write_text(json.dumps(header, indent=1, ensure_ascii=False) + "\n")

    dq = {"sources": sources, "real": real_dequant(r), "synthetic": synthetic_dequant(rng)}
    (HERE / "dequant.json").write_text(json.dumps(dq, indent=1) + "\n")

    q = quant_goldens(ggml, r, rng)
    q["sources"] = sources
    (HERE / "quant.json").write_text(json.dumps(q, indent=1) + "\n")
    for f in ("smollm2_header.json", "dequant.json", "quant.json"):
        print(f, (HERE / f).stat().st_size, "bytes")


if __name__ == "__main__":
    main()
