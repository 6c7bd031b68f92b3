//! Dequantization against the `gguf` Python package and quantization against llama.cpp's
//! `ggml_quantize_chunk`, through the committed golden files (see
//! `tests/golden/make_quant_golden.py`). Comparisons are bit-exact: our arithmetic follows
//! ggml's order, and neither side fuses multiply-adds.

use super::test_data::*;
use super::*;
use crate::gguf::{GgufHeader, TensorInfo};

fn ty(id: u64) -> GgmlType {
    GgmlType::from_id(id as u32).unwrap_or_else(|| panic!("type {id}"))
}

/// Same bits, or both NaN (NaN payloads are not part of the contract).
fn assert_same_f32(ours: &[f32], theirs: &[f32], what: &str) {
    assert_eq!(ours.len(), theirs.len(), "{what}: length");
    for (i, (a, b)) in ours.iter().zip(theirs).enumerate() {
        let same = a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan());
        assert!(
            same,
            "{what}: element {i}: ours {a:e} ({:#x}), reference {b:e} ({:#x})",
            a.to_bits(),
            b.to_bits()
        );
    }
}

fn tensor_bytes_of<'a>(file: &'a [u8], h: &GgufHeader, t: &TensorInfo) -> &'a [u8] {
    let r = h.tensor_data_range(t).expect("range");
    &file[r.start as usize..r.end as usize]
}

#[test]
fn every_tensor_of_the_real_model_dequantizes_as_gguf_python_does() {
    let file = model_bytes();
    let h = GgufHeader::parse_file(&file).expect("parse");
    let golden = golden("dequant.json");
    let cases = golden["real"].as_array().expect("real");
    assert_eq!(cases.len(), h.tensors.len());
    let mut types = std::collections::BTreeSet::new();
    for case in cases {
        let t = h.tensor(str_of(&case["name"])).expect("tensor in file");
        assert_eq!(t.ggml_type, ty(u64_of(&case["type"])));
        types.insert(t.ggml_type.name());
        let y = dequantize_to_vec(t.ggml_type, tensor_bytes_of(&file, &h, t)).expect("dequantize");
        if let Some(row) = case["first_row"].as_str() {
            let row = hex_f32(row);
            assert_same_f32(&y[..row.len()], &row, &t.name);
        }
        assert_eq!(
            checksum_f32(&y),
            str_of(&case["checksum"]),
            "{}: checksum of all values",
            t.name
        );
    }
    assert_eq!(
        types.into_iter().collect::<Vec<_>>(),
        ["f32", "q4_1", "q8_0"]
    );
}

#[test]
fn synthetic_blocks_of_every_type_dequantize_as_gguf_python_does() {
    let golden = golden("dequant.json");
    let mut seen = Vec::new();
    for case in golden["synthetic"].as_array().expect("synthetic") {
        let t = ty(u64_of(&case["type"]));
        let bytes = hex(str_of(&case["bytes"]));
        let want = hex_f32(str_of(&case["f32"]));
        let got = dequantize_to_vec(t, &bytes).expect("dequantize");
        assert_same_f32(&got, &want, t.name());
        seen.push(t);
    }
    for t in DEQUANTIZABLE {
        assert!(
            seen.contains(&t) || t == GgmlType::F32,
            "no golden case for {t}"
        );
    }
}

#[test]
fn q6_k_and_q8_0_bytes_equal_llama_cpp_on_edge_case_blocks() {
    let golden = golden("quant.json");
    for case in golden["synthetic"].as_array().expect("synthetic") {
        let name = str_of(&case["name"]);
        let x = hex_f32(str_of(&case["input"]));
        let q6 = quantize_q6_k(&x).expect("q6_k");
        assert_eq!(
            q6,
            hex(str_of(&case["q6_k"])),
            "{name}: Q6_K bytes differ from llama.cpp's"
        );
        let q8 = quantize_q8_0(&x).expect("q8_0");
        assert_eq!(
            q8,
            hex(str_of(&case["q8_0"])),
            "{name}: Q8_0 bytes differ from llama.cpp's"
        );
    }
}

struct RoundTrip {
    rms: f64,
    max: f64,
}

fn round_trip(t: GgmlType, x: &[f32], q: &[u8]) -> RoundTrip {
    let y = dequantize_to_vec(t, q).expect("dequantize");
    let (mut sq, mut max) = (0.0f64, 0.0f64);
    for (a, b) in x.iter().zip(&y) {
        let d = f64::from(*b) - f64::from(*a);
        sq += d * d;
        max = max.max(d.abs());
    }
    RoundTrip {
        rms: (sq / x.len() as f64).sqrt(),
        max,
    }
}

#[test]
fn requantizing_real_weights_matches_llama_cpp_bytes_and_error() {
    let file = model_bytes();
    let h = GgufHeader::parse_file(&file).expect("parse");
    let golden = golden("quant.json");
    for case in golden["real"].as_array().expect("real") {
        let t = h.tensor(str_of(&case["tensor"])).expect("tensor");
        let qtype = ty(u64_of(&case["type"]));
        let rows = u64_of(&case["rows"]) as usize;
        let n = rows * t.dims[0] as usize;
        let x = dequantize_to_vec(t.ggml_type, tensor_bytes_of(&file, &h, t)).expect("dequantize");
        let x = &x[..n];
        // Blocks never straddle rows (row lengths are multiples of the block), so quantizing
        // the rows one after another is quantizing the flat slice.
        let q = quantize(qtype, x).expect("quantize");
        assert_eq!(q.len() as u64, u64_of(&case["n_bytes"]));
        let block = &q[..qtype.bytes_per_block() as usize];
        assert_eq!(
            block,
            hex(str_of(&case["first_block"])),
            "{}: first {qtype} block",
            t.name
        );
        assert_eq!(
            checksum_bytes(&q),
            str_of(&case["bytes_checksum"]),
            "{}: {qtype} bytes differ from llama.cpp's",
            t.name
        );

        // Identical bytes imply identical error; check the bound anyway, as the contract.
        let ours = round_trip(qtype, x, &q);
        let (ref_rms, ref_max) = (
            case["error"]["rms"].as_f64().unwrap(),
            case["error"]["max"].as_f64().unwrap(),
        );
        assert!(
            ours.rms <= ref_rms * (1.0 + 1e-9) + 1e-12,
            "{}: rms {} vs llama.cpp {ref_rms}",
            t.name,
            ours.rms
        );
        assert!(
            ours.max <= ref_max * (1.0 + 1e-9) + 1e-12,
            "{}: max {} vs llama.cpp {ref_max}",
            t.name,
            ours.max
        );
        eprintln!("{} {qtype}: rms {:.6e} (llama.cpp {ref_rms:.6e}), max {:.4e} (llama.cpp {ref_max:.4e})", t.name, ours.rms, ours.max);
    }
}

#[test]
fn q6_k_round_trip_is_tight_on_smooth_data() {
    // Independent of the goldens: on Gaussian weights 6 bits keep the error near 1% of σ.
    let x: Vec<f32> = (0..4096)
        .map(|i| ((i as f32 * 0.37).sin() + (i as f32 * 0.011).cos()) * 0.02)
        .collect();
    let q = quantize_q6_k(&x).unwrap();
    assert_eq!(q.len(), 16 * 210);
    let e = round_trip(GgmlType::Q6K, &x, &q);
    assert!(e.rms < 0.02 * 0.02, "rms {}", e.rms);
    let q8 = quantize_q8_0(&x).unwrap();
    let e8 = round_trip(GgmlType::Q8_0, &x, &q8);
    assert!(e8.rms < e.rms, "Q8_0 {} should beat Q6_K {}", e8.rms, e.rms);
}

#[test]
fn bad_lengths_and_types_are_errors() {
    let mut out = [0.0f32; 32];
    assert_eq!(
        dequantize(GgmlType::Q8_0, &[0; 33], &mut out),
        Err(QuantError::PartialBlock {
            ty: GgmlType::Q8_0,
            bytes: 33,
            block_bytes: 34
        })
    );
    assert_eq!(
        dequantize(GgmlType::Q8_0, &[0; 68], &mut out),
        Err(QuantError::LengthMismatch {
            ty: GgmlType::Q8_0,
            bytes: 68,
            expected: 64,
            out: 32
        })
    );
    assert!(matches!(
        dequantize(GgmlType::Q2K, &[0; 84], &mut [0.0; 256]),
        Err(QuantError::Unsupported { .. })
    ));
    assert!(matches!(
        quantize_q6_k(&[0.0; 255]),
        Err(QuantError::NotBlockMultiple { .. })
    ));
    assert!(matches!(
        quantize_q8_0(&[0.0; 33]),
        Err(QuantError::NotBlockMultiple { .. })
    ));
    assert!(matches!(
        quantize(GgmlType::Q4K, &[0.0; 256]),
        Err(QuantError::Unsupported { .. })
    ));
    // Non-finite input does not panic.
    let mut x = vec![0.01f32; 256];
    x[3] = f32::NAN;
    x[9] = f32::INFINITY;
    quantize_q6_k(&x).unwrap();
    quantize_q8_0(&x).unwrap();
}

#[test]
fn float_conversions_match_ggml() {
    assert_eq!(f32_to_f16(1.0), 0x3C00);
    assert_eq!(f32_to_f16(65520.0), 0x7C00); // rounds up to inf
    assert_eq!(f32_to_f16(5.960_464_5e-8), 0x0001); // smallest subnormal
    assert_eq!(f32_to_bf16(1.0), 0x3F80);
    assert_eq!(f32_to_bf16(f32::from_bits(0x3F80_8000)), 0x3F80); // tie to even
    assert_eq!(f32_to_bf16(f32::from_bits(0x3F81_8000)), 0x3F82);
    assert_eq!(f32_to_bf16(f32::from_bits(0x7F80_0001)), 0x7FC0); // NaN stays NaN (quiet)
    assert_eq!(bf16_to_f32(0x3F80), 1.0);
    assert_eq!(nearest_int(2.5), 2);
    assert_eq!(nearest_int(3.5), 4);
    assert_eq!(nearest_int(-2.5), -2);
    assert_eq!(nearest_int(f32::NAN), 0);
    assert_eq!(nearest_int(1e30), 4_194_303);
}

#[test]
fn fast_f16_conversion_equals_the_library_for_every_value() {
    for bits in 0..=u16::MAX {
        let (fast, lib) = (crate::quant::f16_to_f32_fast(bits), f16_to_f32(bits));
        assert!(
            fast.to_bits() == lib.to_bits() || (fast.is_nan() && lib.is_nan()),
            "{bits:#06x}: {fast} vs {lib}"
        );
    }
}
