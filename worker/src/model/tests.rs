use super::*;
use crate::gguf::{GgmlType, GgufHeader, GgufWriter, MetadataValue};

/// Tensor names and GGUF dims, editable before the file is written.
pub(crate) type TensorList = Vec<(String, Vec<u64>)>;

/// A tiny random Llama as GGUF bytes: 2 layers, dim 16, 4 heads, 2 KV heads, ffn 24, vocab 40,
/// with `rope_freqs` and an untied output. `edit` changes the writer before the bytes are made.
pub(crate) fn tiny_llama(edit: impl FnOnce(&mut GgufWriter, &mut TensorList)) -> Vec<u8> {
    let mut w = GgufWriter::new();
    w.set("general.architecture", "llama");
    w.set("llama.block_count", MetadataValue::U32(2));
    w.set("llama.embedding_length", MetadataValue::U32(16));
    w.set("llama.feed_forward_length", MetadataValue::U32(24));
    w.set("llama.attention.head_count", MetadataValue::U32(4));
    w.set("llama.attention.head_count_kv", MetadataValue::U32(2));
    w.set("llama.rope.freq_base", 10000.0f32);
    w.set("llama.attention.layer_norm_rms_epsilon", 1e-5f32);
    w.set("llama.context_length", MetadataValue::U32(64));
    w.set("llama.vocab_size", MetadataValue::U32(40));
    let mut tensors: Vec<(String, Vec<u64>)> = vec![("token_embd.weight".into(), vec![16, 40])];
    for l in 0..2 {
        for (t, d) in [
            ("attn_norm", vec![16]),
            ("attn_q", vec![16, 16]),
            ("attn_k", vec![16, 8]),
            ("attn_v", vec![16, 8]),
            ("attn_output", vec![16, 16]),
            ("ffn_norm", vec![16]),
            ("ffn_gate", vec![16, 24]),
            ("ffn_up", vec![16, 24]),
            ("ffn_down", vec![24, 16]),
        ] {
            tensors.push((format!("blk.{l}.{t}.weight"), d));
        }
    }
    tensors.push(("output_norm.weight".into(), vec![16]));
    tensors.push(("output.weight".into(), vec![16, 40]));
    tensors.push(("rope_freqs.weight".into(), vec![2]));
    edit(&mut w, &mut tensors);
    let mut data = Vec::new();
    for (i, (name, dims)) in tensors.iter().enumerate() {
        w.add_tensor(name.clone(), dims, GgmlType::F32).unwrap();
        let n: u64 = dims.iter().product();
        let values: Vec<f32> = (0..n)
            .map(|j| {
                let r = ((j as f32 + 1.0) * 12.9898 + i as f32 * 78.233).sin() * 43758.547;
                let r = r - r.floor();
                if name.contains("norm") || name.starts_with("rope") {
                    0.8 + 0.4 * r
                } else {
                    (r - 0.5) * 0.6
                }
            })
            .collect();
        data.push(
            values
                .iter()
                .flat_map(|v| v.to_le_bytes())
                .collect::<Vec<u8>>(),
        );
    }
    let refs: Vec<&[u8]> = data.iter().map(|d| d.as_slice()).collect();
    w.to_bytes(&refs).unwrap()
}

fn config_of(bytes: &[u8]) -> Result<Config, ModelError> {
    Config::from_gguf(&GgufHeader::parse_file(bytes).unwrap())
}

#[test]
fn reads_the_config() {
    let c = config_of(&tiny_llama(|_, _| {})).unwrap();
    assert_eq!(
        c,
        Config {
            n_layers: 2,
            dim: 16,
            ffn_dim: 24,
            n_heads: 4,
            n_kv_heads: 2,
            head_dim: 4,
            rope_base: 10000.0,
            rope_dims: 4,
            rms_eps: 1e-5,
            context_len: 64,
            vocab_size: 40,
            tied_embeddings: false,
        }
    );
    assert_eq!((c.group_size(), c.q_dim(), c.kv_dim()), (2, 16, 8));
    assert_eq!(LayerTensor::FfnDown.name(7), "blk.7.ffn_down.weight");
}

#[test]
fn tied_when_output_is_absent_and_vocab_from_embedding() {
    let c = config_of(&tiny_llama(|w, t| {
        w.remove("llama.vocab_size");
        t.retain(|(n, _)| n != "output.weight");
    }))
    .unwrap();
    assert!(c.tied_embeddings);
    assert_eq!(c.vocab_size, 40);
}

#[test]
fn bad_files_give_named_errors() {
    let err = |edit: fn(&mut GgufWriter, &mut TensorList)| {
        config_of(&tiny_llama(edit)).unwrap_err().to_string()
    };
    let e = err(|w, _| w.set("general.architecture", "gpt2"));
    assert!(e.contains("\"gpt2\" is not supported"), "{e}");
    let e = err(|w, _| w.remove("general.architecture"));
    assert!(e.contains("general.architecture is missing"), "{e}");
    let e = err(|w, _| w.remove("llama.block_count"));
    assert!(e.contains("llama.block_count is missing"), "{e}");
    let e = err(|w, _| w.set("llama.attention.head_count", MetadataValue::U32(0)));
    assert!(e.contains("llama.attention.head_count"), "{e}");
    let e = err(|w, _| w.set("llama.attention.head_count", MetadataValue::U32(5)));
    assert!(e.contains("not a multiple of the 5 heads"), "{e}");
    let e = err(|w, _| w.set("llama.attention.head_count_kv", MetadataValue::U32(3)));
    assert!(e.contains("not a multiple of the 3 KV heads"), "{e}");
    let e = err(|w, _| w.set("llama.rope.dimension_count", MetadataValue::U32(3)));
    assert!(e.contains("RoPE dimension count 3"), "{e}");
    let e = err(|w, _| w.set("llama.rope.freq_base", "big"));
    assert!(e.contains("llama.rope.freq_base"), "{e}");
    let e = err(|_, t| t.retain(|(n, _)| n != "blk.1.ffn_up.weight"));
    assert!(e.contains("tensor blk.1.ffn_up.weight is missing"), "{e}");
    let e = err(|_, t| t[2].1 = vec![16, 12]);
    assert!(e.contains("blk.0.attn_q.weight has shape [16, 12]"), "{e}");
    let e = err(|_, t| t.last_mut().unwrap().1 = vec![3]);
    assert!(e.contains("rope_freqs.weight"), "{e}");
}
