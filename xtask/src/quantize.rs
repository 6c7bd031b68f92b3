//! `cargo xtask quantize IN.gguf OUT.gguf --type q6_k`: requantizes a GGUF model.
//!
//! Rule (what llama.cpp's Q6_K files look like): every tensor with two or more dimensions whose
//! row length (`ne[0]`) is a multiple of 256 becomes the target type; other such tensors become
//! Q8_0 when their rows are a multiple of 32, else keep their type; 1-D tensors become F32.
//! `--type f32` dequantizes every tensor to F32 (an exact reference copy).
//! Metadata is kept, with `general.file_type` set to the target's llama ftype. Tensors already of
//! their output type are copied untouched.
//!
//! The input is read one tensor at a time (the header first, then each tensor's bytes), and
//! quantization runs on all cores, rows split between threads.

use anyhow::{bail, Context, Result};
use hearth_worker::gguf::{GgmlType, GgufHeader, GgufWriter, MetadataValue, TensorInfo};
use hearth_worker::quant;
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Seek, SeekFrom};
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct Args {
    /// The GGUF model to requantize.
    pub input: PathBuf,
    /// Where to write the requantized GGUF.
    pub output: PathBuf,
    /// Type for weights whose rows are a multiple of 256 (others become Q8_0).
    #[arg(long = "type", value_enum, default_value_t = Target::Q6K)]
    pub target: Target,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Target {
    #[value(name = "q6_k")]
    Q6K,
    #[value(name = "q8_0")]
    Q8_0,
    /// Every tensor dequantized to F32: the reference copy of a model.
    #[value(name = "f32")]
    F32,
}

impl Target {
    fn ggml_type(self) -> GgmlType {
        match self {
            Target::Q6K => GgmlType::Q6K,
            Target::Q8_0 => GgmlType::Q8_0,
            Target::F32 => GgmlType::F32,
        }
    }

    /// llama.cpp's `llama_ftype` for a file mostly of this type.
    fn file_type(self) -> u32 {
        match self {
            Target::Q6K => 18,
            Target::Q8_0 => 7,
            Target::F32 => 0,
        }
    }
}

/// The type a tensor gets in the output.
pub fn output_type(t: &TensorInfo, target: Target) -> GgmlType {
    if t.dims.len() < 2 {
        return GgmlType::F32;
    }
    let row = t.dims[0];
    let goal = target.ggml_type();
    if row.is_multiple_of(goal.block_size()) {
        goal
    } else if row.is_multiple_of(GgmlType::Q8_0.block_size()) {
        GgmlType::Q8_0
    } else {
        t.ggml_type
    }
}

/// Converts one tensor's bytes from `from` to `to`, rows of `row_len` weights, in parallel.
fn convert(bytes: &[u8], from: GgmlType, to: GgmlType, row_len: u64) -> Result<Vec<u8>> {
    if from == to {
        return Ok(bytes.to_vec());
    }
    let in_row = from.row_bytes(row_len).context("row size")? as usize;
    let out_row = to.row_bytes(row_len).context("row size")? as usize;
    if in_row == 0 || !bytes.len().is_multiple_of(in_row) {
        bail!("{} bytes are not whole rows of {in_row}", bytes.len());
    }
    let rows = bytes.len() / in_row;
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(rows.max(1));
    let rows_per = rows.div_ceil(threads.max(1)).max(1);
    let mut out = vec![0u8; rows * out_row];
    std::thread::scope(|s| -> Result<()> {
        let jobs: Vec<_> = bytes
            .chunks(rows_per * in_row)
            .zip(out.chunks_mut(rows_per * out_row))
            .map(|(src, dst)| {
                s.spawn(move || -> Result<()> {
                    // A few rows at a time keeps the f32 copy small for big tensors.
                    for (src, dst) in src.chunks(16 * in_row).zip(dst.chunks_mut(16 * out_row)) {
                        let x = quant::dequantize_to_vec(from, src)?;
                        dst.copy_from_slice(&quant::quantize(to, &x)?);
                    }
                    Ok(())
                })
            })
            .collect();
        for j in jobs {
            j.join()
                .map_err(|_| anyhow::anyhow!("a quantization thread panicked"))??;
        }
        Ok(())
    })?;
    Ok(out)
}

pub fn run(args: Args) -> Result<()> {
    requantize(&args.input, &args.output, args.target)
}

/// Requantizes `input` into `output` (written as `output.gguf.partial`, then renamed).
pub fn requantize(input: &std::path::Path, output: &std::path::Path, target: Target) -> Result<()> {
    let args = Args {
        input: input.to_path_buf(),
        output: output.to_path_buf(),
        target,
    };
    let file =
        File::open(&args.input).with_context(|| format!("opening {}", args.input.display()))?;
    let file_len = file.metadata()?.len();
    let mut input = BufReader::new(file);
    let header = GgufHeader::read_from(&mut input, Some(file_len))
        .with_context(|| format!("reading the GGUF header of {}", args.input.display()))?;

    let mut w = GgufWriter::new();
    for (k, v) in &header.metadata {
        w.set(k.clone(), v.clone());
    }
    w.set(
        "general.file_type",
        MetadataValue::U32(args.target.file_type()),
    );
    let mut plan = Vec::with_capacity(header.tensors.len());
    for t in &header.tensors {
        let to = output_type(t, args.target);
        w.add_tensor(t.name.clone(), &t.dims, to)?;
        plan.push((t, to));
    }

    let partial = args.output.with_extension("gguf.partial");
    let out = BufWriter::new(
        File::create(&partial).with_context(|| format!("creating {}", partial.display()))?,
    );
    let mut sink = w.start(out)?;
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for (t, to) in plan {
        let range = header.tensor_data_range(t).context("tensor range")?;
        input.seek(SeekFrom::Start(range.start))?;
        let mut bytes = vec![0u8; (range.end - range.start) as usize];
        input
            .read_exact(&mut bytes)
            .with_context(|| format!("reading tensor {}", t.name))?;
        let data = convert(
            &bytes,
            t.ggml_type,
            to,
            t.dims.first().copied().unwrap_or(1),
        )
        .with_context(|| format!("converting {} from {} to {to}", t.name, t.ggml_type))?;
        sink.write_tensor(&t.name, &data)?;
        *counts
            .entry(format!("{} -> {to}", t.ggml_type))
            .or_default() += 1;
    }
    sink.finish()?;
    std::fs::rename(&partial, &args.output)?;
    let out_len = std::fs::metadata(&args.output)?.len();
    for (conversion, n) in counts {
        println!("{n:4} tensors {conversion}");
    }
    println!(
        "wrote {} ({:.1} MB, from {:.1} MB)",
        args.output.display(),
        out_len as f64 / 1e6,
        file_len as f64 / 1e6
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f32_bytes(x: &[f32]) -> Vec<u8> {
        x.iter().flat_map(|v| v.to_le_bytes()).collect()
    }

    fn values(n: usize, seed: u32) -> Vec<f32> {
        (0..n)
            .map(|i| (i as f32 * 0.713 + seed as f32).sin() * 0.05)
            .collect()
    }

    #[test]
    fn requantizes_by_row_length_and_keeps_metadata() {
        let dir = std::env::temp_dir().join(format!("hearth-quantize-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let norm = values(96, 1);
        let wide = values(512 * 3, 2);
        let narrow = values(96 * 4, 3);
        let odd = values(100 * 2, 4);
        let q41 = {
            // Q4_1 blocks with sane scales.
            let mut b = vec![0u8; 20 * 4];
            for (i, blk) in b.chunks_mut(20).enumerate() {
                blk[..2].copy_from_slice(&quant::f32_to_f16(0.01).to_le_bytes());
                blk[2..4].copy_from_slice(&quant::f32_to_f16(-0.07).to_le_bytes());
                for (j, q) in blk[4..].iter_mut().enumerate() {
                    *q = (i * 31 + j * 7) as u8;
                }
            }
            b
        };
        let mut w = GgufWriter::new();
        w.set("general.architecture", "llama");
        w.set("general.file_type", MetadataValue::U32(3));
        w.set(
            "tokenizer.ggml.tokens",
            MetadataValue::Array(vec!["a".into(), "b".into()]),
        );
        w.add_tensor("norm", &[96], GgmlType::F32).unwrap();
        w.add_tensor("wide", &[512, 3], GgmlType::F32).unwrap();
        w.add_tensor("narrow", &[96, 4], GgmlType::F32).unwrap();
        w.add_tensor("odd", &[100, 2], GgmlType::F32).unwrap();
        w.add_tensor("q41", &[64, 2], GgmlType::Q4_1).unwrap();
        let data = [
            f32_bytes(&norm),
            f32_bytes(&wide),
            f32_bytes(&narrow),
            f32_bytes(&odd),
            q41.clone(),
        ];
        let refs: Vec<&[u8]> = data.iter().map(|d| d.as_slice()).collect();
        let input = dir.join("in.gguf");
        std::fs::write(&input, w.to_bytes(&refs).unwrap()).unwrap();

        let output = dir.join("out.gguf");
        run(Args {
            input: input.clone(),
            output: output.clone(),
            target: Target::Q6K,
        })
        .unwrap();
        let bytes = std::fs::read(&output).unwrap();
        let h = GgufHeader::parse_file(&bytes).unwrap();
        let types: Vec<GgmlType> = h.tensors.iter().map(|t| t.ggml_type).collect();
        assert_eq!(
            types,
            [
                GgmlType::F32,
                GgmlType::Q6K,
                GgmlType::Q8_0,
                GgmlType::F32,
                GgmlType::Q8_0
            ]
        );
        assert_eq!(h.get_u32("general.file_type"), Some(18));
        assert_eq!(h.get_str("general.architecture"), Some("llama"));
        assert_eq!(
            h.get_str_array("tokenizer.ggml.tokens"),
            Some(vec!["a", "b"])
        );
        let data_of = |name: &str| {
            let r = h.tensor_data_range(h.tensor(name).unwrap()).unwrap();
            &bytes[r.start as usize..r.end as usize]
        };
        assert_eq!(data_of("norm"), f32_bytes(&norm));
        assert_eq!(data_of("wide"), quant::quantize_q6_k(&wide).unwrap());
        assert_eq!(data_of("narrow"), quant::quantize_q8_0(&narrow).unwrap());
        assert_eq!(data_of("odd"), f32_bytes(&odd));
        let q41_f32 = quant::dequantize_to_vec(GgmlType::Q4_1, &q41).unwrap();
        assert_eq!(data_of("q41"), quant::quantize_q8_0(&q41_f32).unwrap());

        run(Args {
            input: input.clone(),
            output: output.clone(),
            target: Target::Q8_0,
        })
        .unwrap();
        let h = GgufHeader::parse_file(&std::fs::read(&output).unwrap()).unwrap();
        assert_eq!(h.tensor("wide").unwrap().ggml_type, GgmlType::Q8_0);
        assert_eq!(h.get_u32("general.file_type"), Some(7));

        run(Args {
            input,
            output: output.clone(),
            target: Target::F32,
        })
        .unwrap();
        let bytes = std::fs::read(&output).unwrap();
        let h = GgufHeader::parse_file(&bytes).unwrap();
        assert!(h.tensors.iter().all(|t| t.ggml_type == GgmlType::F32));
        assert_eq!(h.get_u32("general.file_type"), Some(0));
        let r = h.tensor_data_range(h.tensor("q41").unwrap()).unwrap();
        assert_eq!(
            &bytes[r.start as usize..r.end as usize],
            f32_bytes(&q41_f32)
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// The real SmolLM2 Q4_1 becomes the Q6_K test model; its Q6_K tensors must be byte-equal to
    /// what llama.cpp's quantizer makes of the same weights (checksums from the worker's goldens,
    /// see `worker/tests/golden/make_quant_golden.py`).
    #[test]
    fn real_model_requantizes_like_llama_cpp() {
        let root = crate::paths::root();
        let input = root.join(".cache/fixtures/SmolLM2-135M-Instruct.Q4_1.gguf");
        assert!(
            input.exists(),
            "{} is missing: run `cargo xtask fixtures`",
            input.display()
        );
        let dir = std::env::temp_dir().join(format!("hearth-quantize-real-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let output = dir.join("SmolLM2-135M-Instruct.Q6_K.gguf");
        run(Args {
            input: input.clone(),
            output: output.clone(),
            target: Target::Q6K,
        })
        .unwrap();
        let bytes = std::fs::read(&output).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        let h = GgufHeader::parse_file(&bytes).unwrap();
        let original = GgufHeader::read_from(File::open(&input).unwrap(), None).unwrap();
        assert_eq!(h.tensors.len(), original.tensors.len());
        let mut q6 = 0;
        for (t, o) in h.tensors.iter().zip(&original.tensors) {
            assert_eq!((&t.name, &t.dims), (&o.name, &o.dims));
            let want = match (o.dims.len(), o.dims[0] % 256) {
                (1, _) => GgmlType::F32,
                (_, 0) => GgmlType::Q6K,
                _ => GgmlType::Q8_0,
            };
            assert_eq!(t.ggml_type, want, "{}", t.name);
            q6 += usize::from(want == GgmlType::Q6K);
        }
        assert_eq!(q6, 30, "every ffn_down (rows of 1536) and nothing else");
        for (k, v) in &original.metadata {
            if k != "general.file_type" {
                assert_eq!(h.get(k), Some(v), "{k}");
            }
        }
        let golden: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(root.join("worker/tests/golden/quant.json")).unwrap(),
        )
        .unwrap();
        let mut checked = 0;
        for case in golden["real"].as_array().unwrap() {
            let name = case["tensor"].as_str().unwrap();
            let t = h.tensor(name).unwrap();
            let whole = case["rows"].as_u64() == Some(t.dims[1])
                && case["n_per_row"].as_u64() == Some(t.dims[0]);
            if !whole || case["type"].as_u64() != Some(u64::from(t.ggml_type.id())) {
                continue;
            }
            let r = h.tensor_data_range(t).unwrap();
            let data = &bytes[r.start as usize..r.end as usize];
            let mut sum = 0u64;
            for (i, &b) in data.iter().enumerate() {
                sum = sum.wrapping_add(u64::from(b).wrapping_add(1).wrapping_mul(2 * i as u64 + 1));
            }
            assert_eq!(
                format!("{sum:016x}"),
                case["bytes_checksum"].as_str().unwrap(),
                "{name}"
            );
            checked += 1;
        }
        assert!(
            checked >= 5,
            "only {checked} tensors compared with llama.cpp"
        );
    }

    #[test]
    fn errors_name_the_input() {
        let err = run(Args {
            input: PathBuf::from("/nonexistent/in.gguf"),
            output: std::env::temp_dir().join("never.gguf"),
            target: Target::Q6K,
        })
        .unwrap_err();
        assert!(
            format!("{err:#}").contains("/nonexistent/in.gguf"),
            "{err:#}"
        );
    }
}
