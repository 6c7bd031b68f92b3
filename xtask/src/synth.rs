//! `cargo xtask synth --shape llama-3.2-1b|smollm2-135m|tiny --out X.gguf [--seed S]`: a GGUF
//! with a real architecture's exact shapes, random quantized weights and a real tokenizer, for
//! speed work and engine tests (the real 1B weights cannot be downloaded here, and speed does
//! not depend on the values).
//!
//! Weights are random quantized blocks written directly (no f32 detour, so the 1B file takes
//! seconds): scales are chosen so each weight has a standard deviation near 1/√(row length),
//! which keeps activations in a realistic range, and stay far from f16 subnormals (which GPUs
//! may flush to zero).

use crate::fixtures;
use anyhow::{Context, Result};
use hearth_worker::chat::LLAMA3_TEMPLATE;
use hearth_worker::gguf::{GgmlType, GgufHeader, GgufWriter, MetadataValue};
use hearth_worker::tokenizer::gguf_vocab::GgufVocab;
use rand::{Rng, SeedableRng};
use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    #[arg(long, value_enum)]
    pub shape: Shape,
    #[arg(long)]
    pub out: PathBuf,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Shape {
    /// Llama 3.2 1B: 16 layers, dim 2048, FFN 8192, 32/8 heads, tied 128256-row embedding,
    /// Llama 3 RoPE scaling, the real Llama 3 tokenizer; every matrix Q6_K.
    #[value(name = "llama-3.2-1b")]
    Llama32_1B,
    /// SmolLM2-135M: 30 layers, dim 576, FFN 1536, 9/3 heads, SmolLM2's tokenizer; Q6_K where
    /// rows are a multiple of 256 (ffn_down), Q8_0 elsewhere, as `xtask quantize` does.
    #[value(name = "smollm2-135m")]
    SmolLm2_135M,
    /// 2 layers, dim 256, FFN 512, 4/2 heads of 64, SmolLM2's tokenizer; every matrix Q6_K.
    #[value(name = "tiny")]
    Tiny,
}

/// The hyper-parameters of a Llama-architecture model.
pub struct Spec {
    pub name: &'static str,
    pub layers: u64,
    pub dim: u64,
    pub ffn: u64,
    pub heads: u64,
    pub kv_heads: u64,
    pub vocab: u64,
    pub rope_base: f32,
    pub context: u32,
    /// Llama 3 frequency scaling (`rope_freqs.weight`).
    pub llama3_rope: bool,
}

impl Shape {
    pub fn spec(self) -> Spec {
        match self {
            Shape::Llama32_1B => Spec {
                name: "synthetic Llama-3.2-1B shape (random weights)",
                layers: 16,
                dim: 2048,
                ffn: 8192,
                heads: 32,
                kv_heads: 8,
                vocab: 128_256,
                rope_base: 500_000.0,
                context: 131_072,
                llama3_rope: true,
            },
            Shape::SmolLm2_135M => Spec {
                name: "synthetic SmolLM2-135M shape (random weights)",
                layers: 30,
                dim: 576,
                ffn: 1536,
                heads: 9,
                kv_heads: 3,
                vocab: 49_152,
                rope_base: 100_000.0,
                context: 8192,
                llama3_rope: false,
            },
            Shape::Tiny => Spec {
                name: "synthetic tiny Llama (random weights)",
                layers: 2,
                dim: 256,
                ffn: 512,
                heads: 4,
                kv_heads: 2,
                vocab: 49_152,
                rope_base: 10_000.0,
                context: 2048,
                llama3_rope: false,
            },
        }
    }
}

/// Llama 3.x RoPE frequency factors as llama.cpp's converter computes them (factor 32, low 1,
/// high 4, original context 8192).
pub fn llama3_rope_factors(base: f32, head_dim: u64) -> Vec<f32> {
    let (factor, low, high, original) = (32.0f64, 1.0f64, 4.0f64, 8192.0f64);
    let (low_wavelen, high_wavelen) = (original / low, original / high);
    (0..head_dim / 2)
        .map(|i| {
            let freq = 1.0 / (base as f64).powf(2.0 * i as f64 / head_dim as f64);
            let wavelen = 2.0 * std::f64::consts::PI / freq;
            if wavelen < high_wavelen {
                1.0
            } else if wavelen > low_wavelen {
                factor as f32
            } else {
                let smooth = (original / wavelen - low) / (high - low);
                (1.0 / ((1.0 - smooth) / factor + smooth)) as f32
            }
        })
        .collect()
}

pub fn run(args: Args) -> Result<()> {
    let spec = args.shape.spec();
    let mut w = GgufWriter::new();
    let arch = "llama";
    let head_dim = spec.dim / spec.heads;
    w.set("general.architecture", arch);
    w.set("general.name", spec.name);
    w.set("general.file_type", MetadataValue::U32(18));
    let u32_of = |v: u64| MetadataValue::U32(v as u32);
    w.set(format!("{arch}.block_count"), u32_of(spec.layers));
    w.set(
        format!("{arch}.context_length"),
        MetadataValue::U32(spec.context),
    );
    w.set(format!("{arch}.embedding_length"), u32_of(spec.dim));
    w.set(format!("{arch}.feed_forward_length"), u32_of(spec.ffn));
    w.set(format!("{arch}.attention.head_count"), u32_of(spec.heads));
    w.set(
        format!("{arch}.attention.head_count_kv"),
        u32_of(spec.kv_heads),
    );
    w.set(format!("{arch}.rope.freq_base"), spec.rope_base);
    w.set(format!("{arch}.rope.dimension_count"), u32_of(head_dim));
    w.set(format!("{arch}.attention.layer_norm_rms_epsilon"), 1e-5f32);
    w.set(format!("{arch}.vocab_size"), u32_of(spec.vocab));
    for (k, v) in tokenizer_metadata(args.shape)? {
        w.set(k, v);
    }

    // Declaration order = file order, as llama.cpp's converter writes them.
    let matrix_type = |cols: u64| {
        if cols.is_multiple_of(256) {
            GgmlType::Q6K
        } else {
            GgmlType::Q8_0
        }
    };
    let mut tensors: Vec<(String, Vec<u64>, GgmlType)> = Vec::new();
    if spec.llama3_rope {
        tensors.push((
            "rope_freqs.weight".into(),
            vec![head_dim / 2],
            GgmlType::F32,
        ));
    }
    tensors.push((
        "token_embd.weight".into(),
        vec![spec.dim, spec.vocab],
        matrix_type(spec.dim),
    ));
    let kv_dim = spec.kv_heads * head_dim;
    for i in 0..spec.layers {
        let b = |n: &str| format!("blk.{i}.{n}.weight");
        tensors.push((b("attn_norm"), vec![spec.dim], GgmlType::F32));
        for (n, rows) in [
            ("attn_q", spec.dim),
            ("attn_k", kv_dim),
            ("attn_v", kv_dim),
            ("attn_output", spec.dim),
        ] {
            tensors.push((b(n), vec![spec.dim, rows], matrix_type(spec.dim)));
        }
        tensors.push((b("ffn_norm"), vec![spec.dim], GgmlType::F32));
        tensors.push((
            b("ffn_gate"),
            vec![spec.dim, spec.ffn],
            matrix_type(spec.dim),
        ));
        tensors.push((b("ffn_up"), vec![spec.dim, spec.ffn], matrix_type(spec.dim)));
        tensors.push((
            b("ffn_down"),
            vec![spec.ffn, spec.dim],
            matrix_type(spec.ffn),
        ));
    }
    tensors.push(("output_norm.weight".into(), vec![spec.dim], GgmlType::F32));
    for (name, dims, ty) in &tensors {
        w.add_tensor(name.clone(), dims, *ty)?;
    }

    let partial = args.out.with_extension("gguf.partial");
    let file = File::create(&partial).with_context(|| format!("creating {}", partial.display()))?;
    let mut sink = w.start(BufWriter::new(file))?;
    let mut rng = rand::rngs::StdRng::seed_from_u64(args.seed);
    let rope_factors = llama3_rope_factors(spec.rope_base, head_dim);
    for (name, dims, ty) in &tensors {
        let data = match (name.as_str(), ty) {
            ("rope_freqs.weight", _) => f32_bytes(&rope_factors),
            (_, GgmlType::F32) => {
                let norm: Vec<f32> = (0..dims[0]).map(|_| rng.random_range(0.8..1.2)).collect();
                f32_bytes(&norm)
            }
            (_, ty) => random_blocks(*ty, dims[0], dims[1], &mut rng),
        };
        sink.write_tensor(name, &data)?;
    }
    sink.finish()?;
    std::fs::rename(&partial, &args.out)?;
    let len = std::fs::metadata(&args.out)?.len();
    println!(
        "wrote {} ({:.1} MB): {}",
        args.out.display(),
        len as f64 / 1e6,
        spec.name
    );
    Ok(())
}

fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// `rows` rows of `cols` random weights as quantized blocks of `ty` (Q6_K or Q8_0).
fn random_blocks(ty: GgmlType, cols: u64, rows: u64, rng: &mut impl Rng) -> Vec<u8> {
    let sigma = 1.0 / (cols as f32).sqrt();
    let blocks = (cols / ty.block_size() * rows) as usize;
    let mut out = Vec::with_capacity(blocks * ty.bytes_per_block() as usize);
    for _ in 0..blocks {
        match ty {
            GgmlType::Q6K => {
                // ql, qh: uniform 6-bit q, so (q − 32) has an RMS of about 18.5; scales in
                // ±1..8 (RMS about 4.8).
                out.extend((0..192).map(|_| rng.random::<u8>()));
                out.extend((0..16).map(|_| {
                    let s: i8 = rng.random_range(1..=8);
                    (if rng.random() { s } else { -s }) as u8
                }));
                let d = sigma / (18.5 * 4.8) * rng.random_range(0.7f32..1.3);
                out.extend(half::f16::from_f32(d).to_le_bytes());
            }
            GgmlType::Q8_0 => {
                // Uniform i8 in ±127 has an RMS of about 73.
                let d = sigma / 73.0 * rng.random_range(0.7f32..1.3);
                out.extend(half::f16::from_f32(d).to_le_bytes());
                out.extend((0..32).map(|_| rng.random_range(-127i8..=127) as u8));
            }
            other => unreachable!("synthetic weights are Q6_K or Q8_0, not {other}"),
        }
    }
    out
}

/// The real tokenizer of the shape's model family, as GGUF metadata.
fn tokenizer_metadata(shape: Shape) -> Result<Vec<(String, MetadataValue)>> {
    match shape {
        Shape::Llama32_1B => {
            let text = std::fs::read_to_string(fixtures::ensure("llama3.2-tokenizer.json")?)?;
            let mut vocab = GgufVocab::from_tokenizer_json(&text, "llama-bpe")?;
            // This tokenizer.json also lists the vision models' `<|image|>` (id 128256); the
            // text model's vocabulary, and its embedding, end before it.
            anyhow::ensure!(
                vocab.tokens.len() >= 128_256,
                "the Llama 3.2 vocabulary has {} tokens",
                vocab.tokens.len()
            );
            vocab.tokens.truncate(128_256);
            vocab.token_types.truncate(128_256);
            // As Llama 3.2's GGUF: BOS added by the template itself.
            vocab.add_bos = Some(true);
            vocab.chat_template = Some(LLAMA3_TEMPLATE.to_string());
            Ok(vocab.to_metadata())
        }
        Shape::SmolLm2_135M | Shape::Tiny => {
            let path = fixtures::ensure("SmolLM2-135M-Instruct.Q4_1.gguf")?;
            let file = File::open(&path).with_context(|| format!("opening {}", path.display()))?;
            let len = file.metadata()?.len();
            let header = GgufHeader::read_from(BufReader::new(file), Some(len))?;
            Ok(header
                .metadata
                .into_iter()
                .filter(|(k, _)| k.starts_with("tokenizer."))
                .collect())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn llama3_rope_factors_match_llama_cpp() {
        // The values llama.cpp's converter writes for Llama 3.2 (base 500000, head dim 64).
        let f = llama3_rope_factors(500_000.0, 64);
        assert_eq!(f.len(), 32);
        assert!(f[..15].iter().all(|&x| x == 1.0));
        for (got, want) in f[15..18]
            .iter()
            .zip([1.651_329_3_f32, 3.292_262_8, 9.666_731])
        {
            assert!((got - want).abs() < 1e-5, "{got} vs {want}");
        }
        assert!(f[18..].iter().all(|&x| x == 32.0));
    }

    #[test]
    fn tiny_shape_is_all_q6k_and_parses() {
        let out =
            std::env::temp_dir().join(format!("hearth-synth-tiny-{}.gguf", std::process::id()));
        run(Args {
            shape: Shape::Tiny,
            out: out.clone(),
            seed: 3,
        })
        .unwrap();
        let bytes = std::fs::read(&out).unwrap();
        std::fs::remove_file(&out).unwrap();
        let header = GgufHeader::parse_file(&bytes).unwrap();
        let matrices: Vec<_> = header
            .tensors
            .iter()
            .filter(|t| t.dims.len() == 2)
            .collect();
        assert_eq!(matrices.len(), 1 + 2 * 7);
        assert!(matrices.iter().all(|t| t.ggml_type == GgmlType::Q6K));
        assert!(
            header.tensor("output.weight").is_none(),
            "embeddings are tied"
        );
        // Dequantized weights have the intended spread and no non-finite values.
        let t = header.tensor("blk.0.attn_q.weight").unwrap();
        let range = header.tensor_data_range(t).unwrap();
        let w = hearth_worker::quant::dequantize_to_vec(
            GgmlType::Q6K,
            &bytes[range.start as usize..range.end as usize],
        )
        .unwrap();
        let rms = (w.iter().map(|x| x * x).sum::<f32>() / w.len() as f32).sqrt();
        assert!(w.iter().all(|x| x.is_finite()));
        assert!((rms - 1.0 / 16.0).abs() < 0.02, "rms {rms}");
        assert!(hearth_worker::tokenizer::Tokenizer::from_gguf(&header).is_ok());
    }
}
