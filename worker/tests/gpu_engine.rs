//! The GPU engine (lavapipe) against the CPU reference (itself proven against a float64
//! oracle), on the real SmolLM2-135M-Instruct Q6_K (Q8_0 and Q6_K matrices, untied output) and
//! on a tiny random all-Q6_K Llama built here (tied embeddings, `rope_freqs`). The tiny model
//! runs in both layouts: the software one lavapipe would get, and the one GPUs get (its typed
//! Q6_K GEMV, split attention, the step recorded ahead), which no GPU checks here.
//!
//! Step-by-step comparison and tolerances: `common/gpu_vs_cpu.rs`.

use common::gpu_vs_cpu::{compare_step, ctx, forward, greedy_agrees, K};
use hearth_worker::cpu::CpuModel;
use hearth_worker::engine::{
    load_file, EngineError, GpuModel, LoadOptions, ModelLoader, StageTimes,
};
use hearth_worker::gguf::{GgmlType, GgufHeader, GgufWriter, MetadataValue};
use hearth_worker::gpu::kernels::matmul::MatmulLayout;
use hearth_worker::gpu::kernels::SplitRule;
use hearth_worker::gpu::WeightEncoding;
use hearth_worker::tokenizer::Tokenizer;
use rand::{Rng, SeedableRng};

mod common;

const SMOL: &str = "SmolLM2-135M-Instruct.Q6_K.gguf";

#[test]
fn smollm2_greedy_matches_cpu_reference() {
    let path = common::fixture(SMOL);
    let file = std::fs::File::open(&path).unwrap();
    let header = GgufHeader::read_from(std::io::BufReader::new(file), None).unwrap();
    let tokenizer = Tokenizer::from_gguf(&header).unwrap();
    let mut cpu = CpuModel::load_file(&path, Some(128)).unwrap();
    let options = LoadOptions {
        max_context: Some(128),
        ..LoadOptions::default()
    };
    let mut gpu = load_file(ctx(), &path, options).unwrap();
    // The weights stay in their GGUF encoding (Q8_0 and Q6_K re-encoded on software adapters, a
    // little larger): GPU memory within 1.05 × the stored tensor bytes.
    let layout = MatmulLayout::for_adapter(&ctx());
    let stored_bytes: u64 = header
        .tensors
        .iter()
        .map(|t| {
            WeightEncoding::for_weights(t.ggml_type, layout).stored_len(t.byte_size().unwrap())
        })
        .sum();
    assert!(
        gpu.weight_bytes() as f64 <= 1.05 * stored_bytes as f64,
        "{} bytes of weights on the GPU for {stored_bytes} stored bytes",
        gpu.weight_bytes()
    );
    for text in [
        "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n",
        "Once upon a time, in a small village by the sea,",
        "fn main() {\n    let x =",
    ] {
        let prompt = tokenizer.encode_with_specials(text);
        let steps = greedy_agrees(&mut cpu, &mut gpu, &prompt, 32);
        assert!(
            steps >= 16,
            "{text:?}: only {steps} steps before a near-tie"
        );
    }
}

/// A tiny random Llama with every matrix Q6_K: dim 256, ffn 512, 4 heads, 2 KV heads, vocab
/// 1000, tied embeddings, `rope_freqs`.
/// The tiny model's context: past the positions at which GPUs split a decode's attention.
const TINY_CONTEXT: u32 = 640;

fn tiny_q6k() -> Vec<u8> {
    tiny_model(GgmlType::Q6K)
}

/// [`tiny_q6k`] with `attn_v` of type `v_type`.
fn tiny_model(v_type: GgmlType) -> Vec<u8> {
    let (dim, ffn, heads, kv_heads, vocab, layers) = (256u64, 512u64, 4u64, 2u64, 1000u64, 2);
    let head_dim = dim / heads;
    let mut w = GgufWriter::new();
    w.set("general.architecture", "llama");
    w.set("llama.block_count", MetadataValue::U32(layers as u32));
    w.set("llama.embedding_length", MetadataValue::U32(dim as u32));
    w.set("llama.feed_forward_length", MetadataValue::U32(ffn as u32));
    w.set(
        "llama.attention.head_count",
        MetadataValue::U32(heads as u32),
    );
    w.set(
        "llama.attention.head_count_kv",
        MetadataValue::U32(kv_heads as u32),
    );
    w.set("llama.rope.freq_base", 10000.0f32);
    w.set("llama.attention.layer_norm_rms_epsilon", 1e-5f32);
    w.set("llama.context_length", MetadataValue::U32(TINY_CONTEXT));
    w.set("llama.vocab_size", MetadataValue::U32(vocab as u32));
    let mut tensors: Vec<(String, Vec<u64>, GgmlType)> = vec![
        (
            "rope_freqs.weight".into(),
            vec![head_dim / 2],
            GgmlType::F32,
        ),
        ("token_embd.weight".into(), vec![dim, vocab], GgmlType::Q6K),
    ];
    for l in 0..layers {
        let b = |n: &str| format!("blk.{l}.{n}.weight");
        tensors.push((b("attn_norm"), vec![dim], GgmlType::F32));
        for (n, rows) in [
            ("attn_q", dim),
            ("attn_k", kv_heads * head_dim),
            ("attn_v", kv_heads * head_dim),
            ("attn_output", dim),
        ] {
            let ty = if n == "attn_v" { v_type } else { GgmlType::Q6K };
            tensors.push((b(n), vec![dim, rows], ty));
        }
        tensors.push((b("ffn_norm"), vec![dim], GgmlType::F32));
        tensors.push((b("ffn_gate"), vec![dim, ffn], GgmlType::Q6K));
        tensors.push((b("ffn_up"), vec![dim, ffn], GgmlType::Q6K));
        tensors.push((b("ffn_down"), vec![ffn, dim], GgmlType::Q6K));
    }
    tensors.push(("output_norm.weight".into(), vec![dim], GgmlType::F32));
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let mut data = Vec::new();
    for (name, dims, ty) in &tensors {
        w.add_tensor(name.clone(), dims, *ty).unwrap();
        let bytes: Vec<u8> = if *ty == GgmlType::Q8_0 {
            let sigma = 1.0 / (dims[0] as f32).sqrt();
            let mut out = Vec::new();
            for _ in 0..dims[0] / 32 * dims[1] {
                let d = sigma / 64.0 * rng.random_range(0.7f32..1.3);
                out.extend(half::f16::from_f32(d).to_le_bytes());
                out.extend((0..32).map(|_| rng.random_range(-127i8..=127) as u8));
            }
            out
        } else if *ty == GgmlType::F32 {
            let lo = if name.starts_with("rope") { 1.0 } else { 0.8 };
            (0..dims[0])
                .flat_map(|_| rng.random_range(lo..lo + 0.4f32).to_le_bytes())
                .collect()
        } else {
            let sigma = 1.0 / (dims[0] as f32).sqrt();
            // Embedding rows get unit-ish scale so the logits spread.
            let sigma = if name.starts_with("token_embd") {
                1.0
            } else {
                sigma
            };
            let mut out = Vec::new();
            for _ in 0..dims[0] / 256 * dims[1] {
                out.extend((0..192).map(|_| rng.random::<u8>()));
                out.extend((0..16).map(|_| {
                    let s: i8 = rng.random_range(1..=8);
                    (if rng.random() { s } else { -s }) as u8
                }));
                let d = sigma / (18.5 * 4.8) * rng.random_range(0.7f32..1.3);
                out.extend(half::f16::from_f32(d).to_le_bytes());
            }
            out
        };
        data.push(bytes);
    }
    let refs: Vec<&[u8]> = data.iter().map(|d| d.as_slice()).collect();
    w.to_bytes(&refs).unwrap()
}

fn load_pushed(bytes: &[u8], chunk: usize, options: LoadOptions) -> GpuModel {
    let mut loader = ModelLoader::new(ctx(), Some(bytes.len() as u64), options);
    for piece in bytes.chunks(chunk) {
        loader.push(piece).unwrap();
    }
    assert!(loader.is_complete());
    loader.finish().unwrap()
}

fn tiny_cpu(bytes: &[u8]) -> CpuModel {
    CpuModel::load(
        &mut std::io::Cursor::new(bytes),
        Some(TINY_CONTEXT as usize),
    )
    .unwrap()
}

const TINY_PROMPTS: [&[u32]; 3] = [
    &[1, 17, 900, 4, 4, 333],
    &[999],
    &[
        5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23,
    ],
];

/// Default options in `layout`.
fn in_layout(layout: MatmulLayout) -> LoadOptions {
    LoadOptions {
        layout: Some(layout),
        ..LoadOptions::default()
    }
}

#[test]
fn tiny_q6k_greedy_matches_cpu_reference() {
    let bytes = tiny_q6k();
    for layout in MatmulLayout::ALL {
        let mut cpu = tiny_cpu(&bytes);
        let mut gpu = load_pushed(&bytes, 1 << 20, in_layout(layout));
        assert!(gpu.config().tied_embeddings);
        for prompt in TINY_PROMPTS {
            let steps = greedy_agrees(&mut cpu, &mut gpu, prompt, 32);
            assert!(
                steps >= 16,
                "{layout:?} {prompt:?}: only {steps} steps before a near-tie"
            );
        }
    }
}

/// q, k and v of different types cannot be stacked into one tensor: they stay apart, one
/// product each, and the model still matches the reference.
#[test]
fn projections_of_different_types_stay_apart() {
    let bytes = tiny_model(GgmlType::Q8_0);
    for layout in MatmulLayout::ALL {
        let mut cpu = tiny_cpu(&bytes);
        let mut gpu = load_pushed(&bytes, 100_003, in_layout(layout));
        let (_, times) = gpu.staged_decode_step(3).unwrap();
        gpu.truncate(0);
        let layers = gpu.config().n_layers as u64;
        assert_eq!(dispatches(&times, "attn_q_k_v"), 3 * layers, "{layout:?}");
        assert_eq!(dispatches(&times, "ffn_gate_up"), layers, "{layout:?}");
        for prompt in TINY_PROMPTS {
            let steps = greedy_agrees(&mut cpu, &mut gpu, prompt, 24);
            assert!(
                steps >= 12,
                "{layout:?} {prompt:?}: only {steps} steps before a near-tie"
            );
        }
    }
}

/// Odd network-sized chunks, weights split into many small bindings, and prompts longer than
/// one prefill batch (processed in chunks).
#[test]
fn tiny_q6k_streamed_split_and_chunked() {
    let bytes = tiny_q6k();
    for layout in MatmulLayout::ALL {
        let mut cpu = tiny_cpu(&bytes);
        let options = LoadOptions {
            max_context: Some(200),
            max_batch: 5,
            max_part_bytes: Some(64 << 10),
            layout: Some(layout),
        };
        let mut gpu = load_pushed(&bytes, 4099, options);
        assert_eq!(gpu.max_batch(), 5);
        for prompt in TINY_PROMPTS {
            let steps = greedy_agrees(&mut cpu, &mut gpu, prompt, 16);
            assert!(
                steps >= 8,
                "{layout:?} {prompt:?}: only {steps} steps before a near-tie"
            );
        }
    }
}

/// The cache survives between calls: a second turn that continues (and one that rewinds to a
/// common prefix) gives what one long prefill gives.
#[test]
fn tiny_q6k_multi_turn_keeps_the_cache() {
    let bytes = tiny_q6k();
    for layout in MatmulLayout::ALL {
        multi_turn_keeps_the_cache(&bytes, layout);
    }
}

fn multi_turn_keeps_the_cache(bytes: &[u8], layout: MatmulLayout) {
    let mut cpu = tiny_cpu(bytes);
    let mut gpu = load_pushed(bytes, 1 << 20, in_layout(layout));
    let whole: Vec<u32> = (0..30).map(|i| (i * 37 + 3) % 1000).collect();
    let want = cpu.forward_batch(&whole, 0).unwrap().to_vec();
    forward(&mut gpu, &whole[..12], 0, K).unwrap();
    let got = forward(&mut gpu, &whole[12..], 12, K).unwrap();
    assert!(compare_step("continued turn", &want, &got).0.is_some());
    assert_eq!(gpu.len(), 30);
    // Rewind to 20 cached positions and run a different tail.
    gpu.truncate(20);
    let mut other = whole[..20].to_vec();
    other.extend([1, 2, 3]);
    cpu.cache.clear();
    let want = cpu.forward_batch(&other, 0).unwrap().to_vec();
    let got = forward(&mut gpu, &other[20..], 20, K).unwrap();
    assert!(compare_step("rewound turn", &want, &got).0.is_some());
    let one = forward(&mut gpu, &[7], 23, 1).unwrap();
    assert_eq!(one.ids.len(), 1);
}

/// On GPUs a decode's attention splits its positions once they are many: steps on both sides
/// of the first split, a few-token batch that splits, and a rewind to an unsplit position (the
/// commands recorded ahead for the next position must not serve it) all agree with the CPU.
#[test]
fn tiny_q6k_attention_splits_agree_with_cpu() {
    let layout = MatmulLayout::Cooperative;
    let per_split = SplitRule::for_layout(layout).per_split as usize;
    let bytes = tiny_q6k();
    let mut cpu = tiny_cpu(&bytes);
    let mut gpu = load_pushed(&bytes, 1 << 20, in_layout(layout));
    let tokens: Vec<u32> = (0..per_split as u32 + 8)
        .map(|i| (i * 61 + 5) % 1000)
        .collect();
    let start = per_split - 3;
    forward(&mut gpu, &tokens[..start], 0, K).unwrap();
    cpu.forward_batch(&tokens[..start], 0).unwrap();
    for (pos, &token) in tokens.iter().enumerate().skip(start).take(6) {
        let want = cpu.forward(token, pos).unwrap().to_vec();
        let got = forward(&mut gpu, &[token], pos, K).unwrap();
        compare_step(&format!("decode at {pos}"), &want, &got);
    }
    let (from, to) = (start + 6, tokens.len());
    let want = cpu.forward_batch(&tokens[from..to], from).unwrap().to_vec();
    let got = forward(&mut gpu, &tokens[from..to], from, K).unwrap();
    compare_step("a split batch", &want, &got);
    cpu.cache.truncate(start);
    let want = cpu.forward(7, start).unwrap().to_vec();
    let got = forward(&mut gpu, &[7], start, K).unwrap();
    compare_step("rewound", &want, &got);
    assert_eq!(SplitRule::for_layout(layout).splits(1, start as u32), 1);
    assert!(SplitRule::for_layout(layout).splits(1, to as u32) > 1);
}

/// The steps `cargo xtask bench` times give the token a plain step gives; the staged one is
/// split into every kind of stage, each layer's norms and matrices submitted alone. On GPUs the
/// norms and SwiGLU are fused into the GEMVs that read their output, and RoPE into the q/k/v
/// GEMV's stores, so they have no stages.
#[test]
fn timed_and_staged_decode_steps_give_the_plain_step_s_token() {
    let bytes = tiny_q6k();
    for layout in MatmulLayout::ALL {
        let mut gpu = load_pushed(&bytes, 1 << 20, in_layout(layout));
        let prompt = TINY_PROMPTS[0];
        forward(&mut gpu, prompt, 0, 1).unwrap();
        let pos = prompt.len();
        let want = forward(&mut gpu, &[42], pos, 1).unwrap().ids[0];
        gpu.truncate(pos);
        let (timed, _) = gpu.timed_decode_step(42).unwrap();
        gpu.truncate(pos);
        let (staged, times) = gpu.staged_decode_step(42).unwrap();
        assert_eq!((timed, staged), (want, want), "{layout:?}");
        assert_eq!(gpu.len(), pos + 1);
        let names: Vec<&str> = times.stages.iter().map(|s| s.name).collect();
        let fused = layout == MatmulLayout::Cooperative;
        let mut expected = vec!["embedding"];
        expected.extend((!fused).then_some("rms_norm"));
        expected.push("attn_q_k_v");
        expected.extend((!fused).then_some("rope"));
        expected.extend(["attention", "attn_output", "ffn_gate_up"]);
        expected.extend((!fused).then_some("swiglu"));
        expected.extend(["ffn_down", "output", "top_k"]);
        assert_eq!(names, expected, "{layout:?}");
        let layers = gpu.config().n_layers as u64;
        for s in &times.stages {
            let submits = match s.name {
                "rms_norm" => 2 * layers + 1,
                "embedding" | "output" | "top_k" => 1,
                _ => layers,
            };
            assert_eq!(s.submits, submits, "{layout:?} {}", s.name);
            assert!(s.seconds > 0.0, "{layout:?} {}", s.name);
        }
        // The same step with each stage a pass of its own, timed on the GPU, where the device
        // writes timestamps.
        gpu.truncate(pos);
        match gpu.stamped_decode_step(42).unwrap() {
            Some((stamped, gpu_times)) => {
                assert_eq!(stamped, want, "{layout:?}");
                let gpu_names: Vec<&str> = gpu_times.stages.iter().map(|s| s.name).collect();
                assert_eq!(gpu_names, names, "{layout:?}");
                for (g, s) in gpu_times.stages.iter().zip(&times.stages) {
                    assert_eq!(
                        (g.submits, g.dispatches),
                        (s.submits, s.dispatches),
                        "{layout:?} {}",
                        s.name
                    );
                }
                let total: f64 = gpu_times.stages.iter().map(|s| s.seconds).sum();
                assert!(total > 0.0, "{layout:?}: {gpu_times:?}");
            }
            None => eprintln!("skipped the stamped step: the device writes no timestamps"),
        }
        assert_eq!(gpu.len(), pos + 1);
        // q, k and v are one stacked product, gate and up another; RoPE writes the KV cache,
        // so attention is one dispatch.
        assert_eq!(SplitRule::for_layout(layout).splits(1, pos as u32), 1);
        for stage in ["attn_q_k_v", "ffn_gate_up", "attention"]
            .into_iter()
            .chain((!fused).then_some("rope"))
        {
            assert_eq!(dispatches(&times, stage), layers, "{layout:?} {stage}");
        }
        // Two where GPUs split the positions: the splits, then their merge.
        let long: Vec<u32> = (0..100).map(|i| 3 + i % 60).collect();
        gpu.truncate(0);
        forward(&mut gpu, &long, 0, 1).unwrap();
        let want = forward(&mut gpu, &[42], long.len(), 1).unwrap().ids[0];
        gpu.truncate(long.len());
        let (staged, times) = gpu.staged_decode_step(42).unwrap();
        assert_eq!(staged, want, "{layout:?}");
        let splits = SplitRule::for_layout(layout).splits(1, long.len() as u32);
        assert_eq!(splits > 1, fused, "{layout:?}");
        let per_layer = if fused { 2 } else { 1 };
        assert_eq!(
            dispatches(&times, "attention"),
            per_layer * layers,
            "{layout:?}"
        );
    }
}

#[test]
fn bad_input_is_an_error_not_a_panic() {
    let bytes = tiny_q6k();
    let options = LoadOptions {
        max_context: Some(16),
        ..LoadOptions::default()
    };
    let mut gpu = load_pushed(&bytes, 1 << 20, options);
    let err = |r: Result<_, EngineError>| r.expect_err("an error").to_string();
    let e = err(forward(&mut gpu, &[3, 1000], 0, 1));
    assert!(e.contains("token id 1000"), "{e}");
    let e = err(forward(&mut gpu, &[], 0, 1));
    assert!(e.contains("no tokens"), "{e}");
    let e = err(forward(&mut gpu, &[1], 0, 0));
    assert!(e.contains("k = 0"), "{e}");
    let e = err(forward(&mut gpu, &[1; 17], 0, 1));
    assert!(e.contains("context window of 16"), "{e}");
    let e = err(forward(&mut gpu, &[1], 3, 1));
    assert!(e.contains("does not follow"), "{e}");
    // Nothing ran: the cache is still empty and a good call works.
    assert_eq!(gpu.len(), 0);
    forward(&mut gpu, &[1; 16], 0, 4).unwrap();
    let e = err(forward(&mut gpu, &[1], 16, 1));
    assert!(e.contains("context window"), "{e}");

    // A truncated stream is an error from finish().
    let mut loader = ModelLoader::new(ctx(), None, LoadOptions::default());
    loader.push(&bytes[..bytes.len() - 100]).unwrap();
    let e = loader.finish().err().expect("incomplete").to_string();
    assert!(e.contains("ended early"), "{e}");
}

/// A model switch must not keep the old model's GPU memory until the garbage collector runs
/// (in the browser, dropping a wgpu buffer frees nothing): dropping a model destroys its
/// buffers, so any later use of them is an error.
#[test]
fn dropping_a_model_destroys_its_gpu_buffers() {
    let bytes = tiny_q6k();
    let gpu = load_pushed(&bytes, 1 << 20, LoadOptions::default());
    let buffers: Vec<wgpu::Buffer> = gpu.buffers().into_iter().cloned().collect();
    let owned: u64 = buffers.iter().map(wgpu::Buffer::size).sum();
    assert!(
        owned >= gpu.weight_bytes(),
        "{owned} bytes listed, {} of weights alone",
        gpu.weight_bytes()
    );
    let ctx = ctx();
    let probe = ctx.device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("probe"),
        size: 16,
        usage: wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });
    let copy_error = |from: &wgpu::Buffer| {
        let scope = ctx.device.push_error_scope(wgpu::ErrorFilter::Validation);
        let mut encoder = ctx.device.create_command_encoder(&Default::default());
        encoder.copy_buffer_to_buffer(from, 0, &probe, 0, 16);
        ctx.queue.submit([encoder.finish()]);
        pollster::block_on(scope.pop())
    };
    // The probe copies from a buffer; the few that cannot be copied from (norms) are small.
    let probed: Vec<&wgpu::Buffer> = buffers
        .iter()
        .filter(|b| b.usage().contains(wgpu::BufferUsages::COPY_SRC))
        .collect();
    let probed_bytes: u64 = probed.iter().map(|b| b.size()).sum();
    assert!(
        probed_bytes * 100 >= owned * 99,
        "{probed_bytes} of {owned}"
    );
    for b in &probed {
        if let Some(e) = copy_error(b) {
            panic!("a live buffer can be copied from: {e}");
        }
    }
    drop(gpu);
    for b in &probed {
        let e = copy_error(b).expect("a dropped model's buffer is destroyed");
        assert!(e.to_string().to_lowercase().contains("destroyed"), "{e}");
    }
}

/// Dispatches one step's stage `name` recorded.
fn dispatches(times: &StageTimes, name: &str) -> u64 {
    times
        .stages
        .iter()
        .find(|s| s.name == name)
        .unwrap()
        .dispatches
}
