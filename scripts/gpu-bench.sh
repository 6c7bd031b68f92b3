#!/usr/bin/env bash
# The engine on a real GPU, in one short run on a machine that has the GPU and a Vulkan driver
# but no Rust toolchain (nothing is built there):
#
#   scripts/gpu-bench.sh build DIR   (here, with cargo) puts the release binaries (xtask, the
#                                    worker's library tests, tests/gpu_engine.rs) and the Llama 3
#                                    tokenizer the synthetic model needs into DIR.
#   scripts/gpu-bench.sh run DIR OUT [BASE]
#                                    (there, from this repository's root) checks every GPU kernel
#                                    and the tiny-model GPU-vs-CPU engine tests on that adapter,
#                                    then runs `xtask bench` on the synthetic Llama-3.2-1B shape;
#                                    the bench JSON, the card and its clocks go to OUT, the logs
#                                    into OUT/logs.tar.gz. With BASE (a folder holding
#                                    another build's xtask and built_at, e.g. the last DIR's), that
#                                    build's decode is benchmarked first in the same run, so the
#                                    two compare on one machine at one time (runs on the same card
#                                    differ by a few percent).
#   scripts/gpu-bench.sh record OUT  (here, with OUT fetched back) writes docs/gpu/<card>.json,
#                                    which `cargo xtask benchmarks` renders into BENCHMARKS.md.
#
# The binaries find test data and the cache through the repository path they were built in;
# `run` links that path to this checkout when it is missing (which needs the right to create it).
set -uo pipefail

mode=${1:-}
dir=${2:-}
if [[ -z $mode || -z $dir ]]; then
    echo "usage: $0 build DIR | $0 run DIR OUT [BASE] | $0 record OUT" >&2
    exit 2
fi

# summarize FILE [brief]: a bench JSON in words; brief: its first two lines only.
summarize() {
    python3 - "$1" "${2:-}" <<'PY' || true
import json, sys
b = json.load(open(sys.argv[1]))
brief = sys.argv[2] == "brief"
print(f"{b['adapter']['name']} ({b['adapter']['driver']}): prefill {b['prefill_tok_s']:.1f} tok/s, "
      f"decode {b['decode_tok_s']:.1f} tok/s, {b['decode_roofline_fraction']:.3f} of a read kernel's "
      f"{b['memory_read_bytes_per_s'] / 1e9:.0f} GB/s (a copy moves {b['memory_copy_bytes_per_s'] / 1e9:.0f})")
s = b["decode_step"]
print(f"step: {s['dispatches']} dispatches, record {s['record_s'] * 1e3:.2f} ms, "
      f"wait {s['wait_s'] * 1e3:.2f} ms, empty submit {s['empty_round_trip_s'] * 1e3:.3f} ms, "
      f"a dispatch {b['dispatch_s'] * 1e6:.1f} us alone, {b['dispatch_in_pass_s'] * 1e6:.1f} us in a pass")
if brief:
    sys.exit()
for st in s["stages"]:
    print(f"  {st['name']:>14} {st['seconds'] * 1e3:8.3f} ms  {st['dispatches']} dispatches")
gpu = s.get("gpu_stages", [])
if gpu:
    print(f"GPU time by stage (a pass each, timestamps): {sum(g['seconds'] for g in gpu) * 1e3:.3f} ms in all")
    for st in sorted(gpu, key=lambda g: -g["seconds"]):
        print(f"  {st['name']:>14} {st['seconds'] * 1e3:8.3f} ms  {st['dispatches']} dispatches in {st['submits']} passes")
att = b.get("attention", [])
if att:
    counts = sorted({t["splits"] for t in att if not t["engine_rule"]})
    print("decode attention, us a layer (its layers in one pass): the engine's rule (its splits), then each split count")
    print(f"  {'positions':>9} {'engine':>12} " + " ".join(f"{c:>6}" for c in counts))
    for p in sorted({t["positions"] for t in att}):
        row = [t for t in att if t["positions"] == p]
        eng = next((t for t in row if t["engine_rule"]), None)
        fixed = {t["splits"]: t["seconds_per_layer"] for t in row if not t["engine_rule"]}
        eng_s = f"{eng['seconds_per_layer'] * 1e6:6.1f} ({eng['splits']:>2})" if eng else ""
        print(f"  {p:>9} {eng_s:>12} " + " ".join(
            f"{fixed[c] * 1e6:6.1f}" if c in fixed else f"{'':>6}" for c in counts))
for g in b["gemv"]:
    print(f"  GEMV {g['type']} {g['layout']}: {g['gemv_bytes_per_s'] / 1e9:.0f} GB/s, "
          f"{g['gemv_over_copy']:.2f} of copy, {g['gemv_bytes_per_s'] / b['memory_read_bytes_per_s']:.2f} of read")
PY
}

case $mode in
build)
    set -e
    mkdir -p "$dir"
    cargo build --release -p xtask
    cargo run --release -p xtask -- fixtures >/dev/null
    # The last two lines of `--no-run` name the two test executables, in the order asked for.
    mapfile -t tests < <(cargo test --release -p hearth-worker --lib --test gpu_engine --no-run \
        --message-format=json 2>/dev/null |
        python3 -c 'import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["profile"]["test"]:
        print(m["executable"])')
    for exe in "${tests[@]}"; do
        case $(basename "$exe") in
        hearth_worker-*) cp "$exe" "$dir/hearth_worker_tests" ;;
        gpu_engine-*) cp "$exe" "$dir/gpu_engine_tests" ;;
        esac
    done
    cp "${CARGO_TARGET_DIR:-target}/release/xtask" "$dir/xtask"
    cp .cache/fixtures/llama3.2-tokenizer.json "$dir/"
    pwd >"$dir/built_in"
    # The commit the binaries were built from ("+" when the tree had changes beside it).
    echo "$(git rev-parse --short HEAD)$(git diff --quiet HEAD || echo +)" >"$dir/built_at"
    ls -la "$dir"
    ;;
run)
    out=${3:?usage: $0 run DIR OUT [BASE]}
    mkdir -p "$out"
    cp "$dir/built_at" "$out/"
    built_in=$(cat "$dir/built_in")
    if [[ ! -e $built_in ]]; then
        mkdir -p "$(dirname "$built_in")"
        ln -s "$PWD" "$built_in"
    fi
    mkdir -p .cache/fixtures
    [ -e .cache/fixtures/llama3.2-tokenizer.json ] || cp "$dir/llama3.2-tokenizer.json" .cache/fixtures/
    if command -v nvidia-smi >/dev/null; then
        nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm,clocks.max.mem \
            --format=csv | tee "$out/gpu.txt"
    fi
    status=0
    base=${4:-}
    # Logs go into one archive at the end, so that OUT stays a few files.
    logs=$(mktemp -d)
    echo "== synthetic Llama-3.2-1B shape"
    "$dir/xtask" synth --shape llama-3.2-1b --out /tmp/llama-3.2-1b.gguf >"$logs/synth.log" 2>&1 ||
        { status=1; tail -5 "$logs/synth.log"; }
    if [[ -n $base ]]; then
        echo "== base $(cat "$base/built_at" 2>/dev/null) (decode only, beside this build's)"
        for prompt in 512 16; do
            timeout 90 "$base/xtask" bench --model /tmp/llama-3.2-1b.gguf --prompt-tokens "$prompt" \
                --decode-tokens 128 --no-gemv --out "$out/base-$prompt.json" >"$logs/base.log" 2>&1 ||
                { status=1; tail -20 "$logs/base.log"; }
            [[ -e $out/base-$prompt.json ]] && echo "-- $prompt-token prompt" &&
                summarize "$out/base-$prompt.json" brief
        done
    fi
    echo "== bench"
    # The clocks while it runs: a GPU waiting on many short kernels may not raise them.
    if command -v nvidia-smi >/dev/null; then
        nvidia-smi --query-gpu=timestamp,clocks.sm,clocks.mem,utilization.gpu,power.draw \
            --format=csv -lms 100 >"$out/clocks.csv" 2>&1 &
        sampler=$!
    fi
    timeout 150 "$dir/xtask" bench --model /tmp/llama-3.2-1b.gguf --prompt-tokens 512 \
        --decode-tokens 128 --out "$out/bench-llama-3.2-1b.json" >"$logs/bench.log" 2>&1 ||
        { status=1; tail -20 "$logs/bench.log"; }
    # A short context beside it: the step without most of the attention.
    timeout 60 "$dir/xtask" bench --model /tmp/llama-3.2-1b.gguf --prompt-tokens 16 \
        --decode-tokens 128 --no-gemv --no-attention --out "$out/bench-llama-3.2-1b-short.json" \
        >"$logs/bench-short.log" 2>&1 || { status=1; tail -20 "$logs/bench-short.log"; }
    if [[ -n ${sampler:-} ]]; then
        kill "$sampler" 2>/dev/null
        echo "SM clock while benchmarking (MHz, from $out/clocks.csv): $(awk -F', ' \
            'NR > 1 { print $2 }' "$out/clocks.csv" | sort -n | uniq -c | sort -rn | head -5 | tr '\n' ' ')"
    fi
    echo "-- 512-token prompt"
    summarize "$out/bench-llama-3.2-1b.json"
    echo "-- 16-token prompt"
    summarize "$out/bench-llama-3.2-1b-short.json"
    echo "== GPU kernel tests"
    timeout 120 "$dir/hearth_worker_tests" gpu:: --test-threads 8 >"$logs/kernel-tests.log" 2>&1 ||
        status=1
    grep -E "^test result|FAILED|panicked" "$logs/kernel-tests.log" | head -20
    echo "== GPU engine tests (tiny random Llama, against the CPU engine)"
    timeout 60 "$dir/gpu_engine_tests" --skip smollm2 >"$logs/engine-tests.log" 2>&1 || status=1
    grep -E "^test result|FAILED|panicked" "$logs/engine-tests.log" | head -20
    rm -f /tmp/llama-3.2-1b.gguf
    tar -czf "$out/logs.tar.gz" -C "$logs" . && rm -rf "$logs"
    exit $status
    ;;
record)
    mkdir -p docs/gpu
    python3 - "$dir" <<'PY'
import collections, json, pathlib, re, sys
out = pathlib.Path(sys.argv[1])
name, memory, driver, sm, mem = [f.strip() for f in (out / "gpu.txt").read_text().splitlines()[1].split(",")]
clocks = [l.split(", ") for l in (out / "clocks.csv").read_text().splitlines()[1:] if l.count(",") >= 4]
seen = collections.Counter(c[1] for c in clocks)
runs = []
for f in ["bench-llama-3.2-1b.json", "bench-llama-3.2-1b-short.json"]:
    run = json.loads((out / f).read_text())
    # The model was a file in the machine's temporary folder.
    run["model"] = "synthetic Llama-3.2-1B shape (xtask synth)"
    runs.append(run)
record = {
    "card": f"{name}, {memory}, driver {driver}, SM clock up to {sm}, memory clock {mem}",
    "date": clocks[0][0][:10].replace("/", "-") if clocks else "",
    "commit": (out / "built_at").read_text().strip(),
    "command": "scripts/gpu-bench.sh run DIR OUT",
    "sm_clock": ", ".join(f"{n} × {c}" for c, n in seen.most_common()) + " (samples every 0.1 s)",
    "runs": runs,
}
slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
path = pathlib.Path("docs/gpu") / f"{slug}.json"
path.write_text(json.dumps(record, indent=2) + "\n")
print(f"wrote {path}")
PY
    ;;
*)
    echo "unknown mode $mode" >&2
    exit 2
    ;;
esac
