//! The reader against the `gguf` Python package on the real SmolLM2 file (golden JSON written by
//! `tests/golden/make_quant_golden.py`), chunked parsing, the writer, and one hand-made header
//! per error.

use super::*;
use crate::quant::test_data::*;
use serde_json::Value;

/// The script's summary of one metadata value, computed from ours.
fn check_value(key: &str, ours: &MetadataValue, want: &Value) {
    let want_type = u64_of(&want["type"]) as u32;
    assert_eq!(ours.value_type().id(), want_type, "{key}: type");
    match ours {
        MetadataValue::F32(v) => {
            assert_eq!(u64::from(v.to_bits()), u64_of(&want["f32_bits"]), "{key}")
        }
        MetadataValue::F64(v) => assert_eq!(v.to_bits(), u64_of(&want["f64_bits"]), "{key}"),
        MetadataValue::String(s) => assert_eq!(s, str_of(&want["value"]), "{key}"),
        MetadataValue::Bool(b) => assert_eq!(Some(*b), want["value"].as_bool(), "{key}"),
        MetadataValue::Array(items) => {
            assert_eq!(items.len() as u64, u64_of(&want["len"]), "{key}: length");
            let elem = u64_of(&want["elem_type"]) as u32;
            assert!(
                items.iter().all(|i| i.value_type().id() == elem),
                "{key}: element types"
            );
            let mut raw = Vec::new();
            for item in items {
                match item {
                    MetadataValue::String(s) => {
                        raw.extend_from_slice(s.as_bytes());
                        raw.push(0xff);
                    }
                    MetadataValue::I32(v) => raw.extend_from_slice(&v.to_le_bytes()),
                    MetadataValue::F32(v) => raw.extend_from_slice(&v.to_le_bytes()),
                    MetadataValue::U32(v) => raw.extend_from_slice(&v.to_le_bytes()),
                    other => panic!("{key}: no summary for {other:?}"),
                }
            }
            assert_eq!(
                checksum_bytes(&raw),
                str_of(&want["checksum"]),
                "{key}: checksum"
            );
            if elem == ValueType::String.id() {
                let head: Vec<&str> = items.iter().take(5).filter_map(|i| i.as_str()).collect();
                let want_head: Vec<&str> = want["head"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(str_of)
                    .collect();
                assert_eq!(head, want_head, "{key}: head");
            }
        }
        scalar => assert_eq!(scalar.as_i64(), want["value"].as_i64(), "{key}"),
    }
}

fn check_against_golden(h: &GgufHeader) {
    let g = golden("smollm2_header.json");
    assert_eq!(u64::from(h.version), u64_of(&g["version"]));
    assert_eq!(h.alignment, u64_of(&g["alignment"]));
    assert_eq!(h.data_offset, u64_of(&g["data_offset"]));
    let order: Vec<&str> = g["metadata_order"]
        .as_array()
        .unwrap()
        .iter()
        .map(str_of)
        .collect();
    let ours: Vec<&str> = h.metadata.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(ours, order);
    for (key, value) in &h.metadata {
        check_value(key, value, &g["metadata"][key.as_str()]);
    }
    let tensors = g["tensors"].as_array().unwrap();
    assert_eq!(h.tensors.len(), tensors.len());
    for (t, want) in h.tensors.iter().zip(tensors) {
        assert_eq!(t.name, str_of(&want["name"]));
        let dims: Vec<u64> = want["dims"]
            .as_array()
            .unwrap()
            .iter()
            .map(u64_of)
            .collect();
        assert_eq!(t.dims, dims, "{}", t.name);
        assert_eq!(
            u64::from(t.ggml_type.id()),
            u64_of(&want["type"]),
            "{}",
            t.name
        );
        assert_eq!(t.offset, u64_of(&want["offset"]), "{}", t.name);
        assert_eq!(t.byte_size(), Ok(u64_of(&want["n_bytes"])), "{}", t.name);
    }
}

#[test]
fn real_header_matches_gguf_python() {
    let file = model_bytes();
    let h = GgufHeader::parse_file(&file).expect("parse");
    check_against_golden(&h);
    // The accessors the tokenizer uses.
    assert_eq!(h.get_str("general.architecture"), Some("llama"));
    assert_eq!(
        h.get_str_array("tokenizer.ggml.tokens").map(|t| t.len()),
        Some(49152)
    );
    assert_eq!(h.get_str_array("tokenizer.ggml.token_type"), None);
    assert_eq!(h.get_u32("llama.block_count"), Some(30));
    assert_eq!(h.get_f32("llama.rope.freq_base"), Some(100000.0));
    assert_eq!(
        h.get("tokenizer.ggml.add_bos_token")
            .and_then(MetadataValue::as_bool),
        Some(false)
    );
    assert!(h.get("no.such.key").is_none());
}

#[test]
fn chunked_parsing_equals_whole_parsing() {
    let file = model_bytes();
    let whole = GgufHeader::parse(&file).expect("parse");
    let header_len = whole.data_offset as usize;
    // The header ends before the data section; feed a little of the data too.
    let prefix = &file[..header_len + 100];
    for chunk in [1usize, 7, 4096, 64 << 10, 1 << 20] {
        let mut r = GgufReader::new().with_file_len(file.len() as u64);
        let mut done_at = None;
        for (i, c) in prefix.chunks(chunk).enumerate() {
            if r.push(c).expect("push") && done_at.is_none() {
                done_at = Some(i);
            }
        }
        let done_at = done_at.expect("complete");
        // Complete exactly when the last tensor info arrived (before the padding).
        assert!(
            done_at * chunk < header_len && (done_at + 1) * chunk >= header_len - 31,
            "chunk {chunk}"
        );
        assert_eq!(r.finish().expect("finish"), whole, "chunk size {chunk}");
    }
    // Irregular chunk sizes.
    let mut r = GgufReader::new();
    let (mut at, mut k) = (0usize, 1usize);
    while at < prefix.len() {
        let n = (k * 7919 % 5003 + 1).min(prefix.len() - at);
        r.push(&prefix[at..at + n]).expect("push");
        at += n;
        k += 1;
    }
    assert_eq!(r.finish().expect("finish"), whole);
    // From a reader, knowing the length.
    let from_read =
        GgufHeader::read_from(std::fs::File::open(MODEL).unwrap(), Some(file.len() as u64))
            .unwrap();
    assert_eq!(from_read, whole);
}

#[test]
fn every_prefix_shorter_than_the_header_is_truncated() {
    let file = model_bytes();
    let whole = GgufHeader::parse(&file).expect("parse");
    let end_of_infos = {
        // The header is complete at the end of the last tensor info: find it by bisection.
        let (mut lo, mut hi) = (0usize, whole.data_offset as usize);
        while lo + 1 < hi {
            let mid = (lo + hi) / 2;
            if GgufHeader::parse(&file[..mid]).is_ok() {
                hi = mid
            } else {
                lo = mid
            }
        }
        hi
    };
    assert!(whole.data_offset - (end_of_infos as u64) < whole.alignment);
    for len in [0, 3, 4, 8, 23, 24, 25, 100, 1000, 700_000, end_of_infos - 1] {
        match GgufHeader::parse(&file[..len]) {
            Err(GgufError::Truncated { offset, .. }) => assert_eq!(offset, len as u64),
            other => panic!("prefix of {len} bytes: {other:?}"),
        }
    }
}

#[test]
fn rewriting_the_real_file_reproduces_it_byte_for_byte() {
    let file = model_bytes();
    let h = GgufHeader::parse_file(&file).expect("parse");
    let mut w = GgufWriter::new();
    for (k, v) in &h.metadata {
        w.set(k.clone(), v.clone());
    }
    for t in &h.tensors {
        w.add_tensor(t.name.clone(), &t.dims, t.ggml_type).unwrap();
    }
    let data: Vec<&[u8]> = h
        .tensors
        .iter()
        .map(|t| {
            let r = h.tensor_data_range(t).unwrap();
            &file[r.start as usize..r.end as usize]
        })
        .collect();
    let out = w.to_bytes(&data).unwrap();
    assert_eq!(out.len(), file.len());
    assert!(
        out == file,
        "first difference at byte {:?}",
        out.iter().zip(&file).position(|(a, b)| a != b)
    );
}

#[test]
fn writer_round_trips_every_value_type() {
    let mut w = GgufWriter::new();
    w.set("u8", MetadataValue::U8(200));
    w.set("i8", MetadataValue::I8(-100));
    w.set("u16", MetadataValue::U16(60000));
    w.set("i16", MetadataValue::I16(-30000));
    w.set("u32", 4_000_000_000u32);
    w.set("i32", MetadataValue::I32(-2_000_000_000));
    w.set("f32", 1.5f32);
    w.set("bool", true);
    w.set("string", "héllo");
    w.set("u64", MetadataValue::U64(u64::MAX));
    w.set("i64", MetadataValue::I64(i64::MIN));
    w.set("f64", MetadataValue::F64(-0.1));
    w.set("empty", MetadataValue::Array(vec![]));
    w.set(
        "strings",
        MetadataValue::Array(vec!["a".into(), "".into(), "ccc".into()]),
    );
    w.set(
        "nested",
        MetadataValue::Array(vec![
            MetadataValue::Array(vec![MetadataValue::U8(1), MetadataValue::U8(2)]),
            MetadataValue::Array(vec![MetadataValue::F64(3.0)]),
            MetadataValue::Array(vec![]),
        ]),
    );
    w.set("general.alignment", 64u32);
    w.set("u8", MetadataValue::U8(201)); // replaces in place
    w.add_tensor("a", &[3], GgmlType::F32).unwrap();
    w.add_tensor("b", &[32, 2], GgmlType::Q8_0).unwrap();
    w.add_tensor("c", &[256], GgmlType::Q6K).unwrap();
    let a: Vec<u8> = [1.0f32, 2.0, 3.0]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let b = vec![7u8; 68];
    let c = vec![9u8; 210];
    let bytes = w.to_bytes(&[&a, &b, &c]).unwrap();
    let h = GgufHeader::parse_file(&bytes).unwrap();
    assert_eq!(h, w.header().unwrap());
    assert_eq!(h.version, 3);
    assert_eq!(h.alignment, 64);
    assert_eq!(h.metadata[0], ("u8".to_string(), MetadataValue::U8(201)));
    assert_eq!(h.metadata.len(), 16);
    assert_eq!(h.get_str_array("strings"), Some(vec!["a", "", "ccc"]));
    assert_eq!(
        h.tensors.iter().map(|t| t.offset).collect::<Vec<_>>(),
        [0, 64, 192]
    );
    assert_eq!(h.data_offset % 64, 0);
    let rc = h.tensor_data_range(&h.tensors[2]).unwrap();
    assert_eq!(&bytes[rc.start as usize..rc.end as usize], &c[..]);
    assert_eq!(bytes.len() as u64, h.data_offset + 192 + 256);
}

#[test]
fn data_offset_follows_the_last_tensor_info_whatever_its_length() {
    // Every header length modulo the alignment, ending in a tensor info, a metadata entry or
    // the preamble.
    for n in 0..80 {
        let mut w = GgufWriter::new();
        w.set("k", "x".repeat(n));
        w.add_tensor("t".repeat(n % 7 + 1), &[8], GgmlType::F32)
            .unwrap();
        let data: Vec<u8> = (0..32).collect();
        let bytes = w.to_bytes(&[&data]).unwrap();
        let h = GgufHeader::parse_file(&bytes).unwrap();
        assert_eq!(h, w.header().unwrap(), "key of {n} bytes");
        let r = h.tensor_data_range(&h.tensors[0]).unwrap();
        assert_eq!(&bytes[r.start as usize..r.end as usize], &data[..]);

        let mut w = GgufWriter::new();
        w.set("k", "x".repeat(n));
        let bytes = w.to_bytes(&[]).unwrap();
        let end = 24 + 8 + 1 + 4 + 8 + n as u64;
        assert_eq!(
            GgufHeader::parse(&bytes).unwrap().data_offset,
            end.next_multiple_of(32)
        );
    }
    assert_eq!(
        GgufHeader::parse(&Raw::start(3, 0, 0).0)
            .unwrap()
            .data_offset,
        32
    );
}

#[test]
fn writer_misuse_is_an_error() {
    let mut w = GgufWriter::new();
    w.add_tensor("a", &[32], GgmlType::F32).unwrap();
    assert!(matches!(
        w.add_tensor("a", &[32], GgmlType::F32),
        Err(GgufError::DuplicateTensor { .. })
    ));
    assert!(matches!(
        w.add_tensor("b", &[33], GgmlType::Q8_0),
        Err(GgufError::BadShape { .. })
    ));
    assert!(matches!(
        w.add_tensor("b", &[1, 1, 1, 1, 1], GgmlType::F32),
        Err(GgufError::TooManyDims { .. })
    ));
    assert!(matches!(
        w.to_bytes(&[&[0; 4]]),
        Err(GgufError::TensorDataSize { .. })
    ));
    assert!(matches!(
        w.to_bytes(&[]),
        Err(GgufError::MissingTensorData { .. })
    ));
    let mut sink = w.start(Vec::new()).unwrap();
    assert!(matches!(
        sink.write_tensor("z", &[0; 128]),
        Err(GgufError::TensorOrder { .. })
    ));
    w.set(
        "mixed",
        MetadataValue::Array(vec![MetadataValue::U8(1), MetadataValue::I8(1)]),
    );
    assert!(matches!(w.header(), Err(GgufError::MixedArray { .. })));
    w.set("mixed", MetadataValue::Array(vec![]));
    w.set("general.alignment", 48u32);
    assert!(matches!(w.header(), Err(GgufError::BadAlignment { .. })));
}

/// Little-endian header builder for hand-made malformed files.
#[derive(Default)]
struct Raw(Vec<u8>);

impl Raw {
    fn start(version: u32, n_tensors: u64, n_kv: u64) -> Raw {
        let mut r = Raw(b"GGUF".to_vec());
        r.u32(version).u64(n_tensors).u64(n_kv);
        r
    }
    fn u32(&mut self, v: u32) -> &mut Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    fn u64(&mut self, v: u64) -> &mut Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    fn str(&mut self, s: &str) -> &mut Self {
        self.u64(s.len() as u64);
        self.0.extend_from_slice(s.as_bytes());
        self
    }
    fn tensor(&mut self, name: &str, dims: &[u64], ty: u32, offset: u64) -> &mut Self {
        self.str(name).u32(dims.len() as u32);
        for &d in dims {
            self.u64(d);
        }
        self.u32(ty).u64(offset)
    }
    fn padded(&mut self, to: usize) -> Vec<u8> {
        let mut v = self.0.clone();
        v.resize(to.max(v.len()), 0);
        v
    }
}

#[test]
fn each_malformation_has_its_own_error() {
    use GgufError as E;
    let parse_file = |b: &[u8]| GgufHeader::parse_file(b);

    assert_eq!(
        GgufHeader::parse(b"GGML\x03\0\0\0"),
        Err(E::BadMagic { found: *b"GGML" })
    );
    assert_eq!(
        GgufHeader::parse(&Raw::start(1, 0, 0).0),
        Err(E::UnsupportedVersion { version: 1 })
    );
    assert_eq!(
        GgufHeader::parse(&Raw::start(4, 0, 0).0),
        Err(E::UnsupportedVersion { version: 4 })
    );
    // v2 parses like v3.
    assert_eq!(
        GgufHeader::parse(&Raw::start(2, 0, 0).0).map(|h| h.version),
        Ok(2)
    );
    assert!(matches!(
        GgufHeader::parse(b"GGUF\x03\0\0"),
        Err(E::Truncated { offset: 7, .. })
    ));

    // Absurd counts: against the limit, and against the bytes in the file.
    let absurd = Raw::start(3, u64::MAX, 0).0;
    assert!(matches!(
        GgufHeader::parse(&absurd),
        Err(E::CountTooLarge {
            count: u64::MAX,
            ..
        })
    ));
    let many = Raw::start(3, 1000, 0).0;
    assert!(matches!(
        parse_file(&many),
        Err(E::CountExceedsFile {
            count: 1000,
            needed: 24000,
            available: 0,
            ..
        })
    ));
    assert!(matches!(
        parse_file(&Raw::start(3, 0, 1 << 40).0),
        Err(E::CountTooLarge { .. })
    ));
    assert!(matches!(
        parse_file(&Raw::start(3, 0, 1000).0),
        Err(E::CountExceedsFile { .. })
    ));

    // Absurd string length.
    let mut r = Raw::start(3, 0, 1);
    r.u64(u64::MAX - 3);
    match GgufHeader::parse(&r.0) {
        Err(E::StringTooLong {
            offset: 24,
            len,
            context,
            ..
        }) => {
            assert_eq!(len, u64::MAX - 3);
            assert!(context.contains("key of metadata entry #0"), "{context}");
        }
        other => panic!("{other:?}"),
    }
    let mut r = Raw::start(3, 0, 1);
    r.u64(1000);
    assert!(matches!(
        parse_file(&r.padded(100)),
        Err(E::CountExceedsFile {
            count: 1000,
            available: 68,
            ..
        })
    ));

    // Bad UTF-8 in a key.
    let mut r = Raw::start(3, 0, 1);
    r.u64(2);
    r.0.extend_from_slice(&[0xC3, 0x28]);
    r.u32(4).u32(1);
    assert!(matches!(
        GgufHeader::parse(&r.0),
        Err(E::InvalidUtf8 { offset: 24, .. })
    ));

    // Unknown value type, for a value and for an array's elements.
    let mut r = Raw::start(3, 0, 1);
    r.str("k").u32(13).u32(0);
    assert_eq!(
        GgufHeader::parse(&r.0),
        Err(E::UnknownValueType {
            key: "k".into(),
            offset: 33,
            type_id: 13
        })
    );
    let mut r = Raw::start(3, 0, 1);
    r.str("k").u32(9).u32(99).u64(1);
    assert!(matches!(
        GgufHeader::parse(&r.0),
        Err(E::UnknownValueType { type_id: 99, .. })
    ));

    // Absurd array length, against the limit and against the file.
    let mut r = Raw::start(3, 0, 1);
    r.str("arr").u32(9).u32(8).u64(1 << 60);
    assert!(matches!(
        GgufHeader::parse(&r.0),
        Err(E::CountTooLarge {
            count: 0x1000_0000_0000_0000,
            ..
        })
    ));
    let mut r = Raw::start(3, 0, 1);
    r.str("arr").u32(9).u32(5).u64(1000).u32(1);
    match parse_file(&r.0) {
        Err(E::CountExceedsFile {
            count: 1000,
            needed: 4000,
            available: 4,
            context,
            ..
        }) => {
            assert!(context.contains("\"arr\""), "{context}")
        }
        other => panic!("{other:?}"),
    }

    // Nesting deeper than the limit.
    let mut r = Raw::start(3, 0, 1);
    r.str("deep").u32(9);
    for _ in 0..9 {
        r.u32(9).u64(1);
    }
    assert!(matches!(
        GgufHeader::parse(&r.padded(4096)),
        Err(E::NestingTooDeep { limit: 8, .. })
    ));

    // Duplicate key.
    let mut r = Raw::start(3, 0, 2);
    r.str("k").u32(4).u32(1).str("k").u32(4).u32(2);
    assert_eq!(
        GgufHeader::parse(&r.0),
        Err(E::DuplicateKey { key: "k".into() })
    );

    // Alignment: wrong type, zero, not a power of two.
    for (ty, v) in [(10u32, 32u64), (4, 0), (4, 48)] {
        let mut r = Raw::start(3, 0, 1);
        r.str("general.alignment").u32(ty);
        if ty == 10 {
            r.u64(v);
        } else {
            r.u32(v as u32);
        }
        assert!(
            matches!(GgufHeader::parse(&r.0), Err(E::BadAlignment { .. })),
            "type {ty} value {v}"
        );
    }

    // Tensor infos.
    let one = |name: &str, dims: &[u64], ty: u32, offset: u64| {
        let mut r = Raw::start(3, 1, 0);
        r.tensor(name, dims, ty, offset);
        r
    };
    assert_eq!(
        GgufHeader::parse(&one("t", &[1, 1, 1, 1, 1], 0, 0).0),
        Err(E::TooManyDims {
            tensor: "t".into(),
            n_dims: 5,
            limit: 4
        })
    );
    let mut r = Raw::start(3, 1, 0);
    r.str("t").u32(u32::MAX);
    assert!(matches!(
        GgufHeader::parse(&r.0),
        Err(E::TooManyDims {
            n_dims: u32::MAX,
            ..
        })
    ));
    assert_eq!(
        GgufHeader::parse(&one("t", &[32], 4, 0).0),
        Err(E::UnknownTensorType {
            tensor: "t".into(),
            type_id: 4
        })
    );
    assert!(matches!(
        GgufHeader::parse(&one("t", &[100], 14, 0).0),
        Err(E::BadShape { .. })
    ));
    assert!(matches!(
        GgufHeader::parse(&one("t", &[1 << 32, 1 << 32, 2], 0, 0).0),
        Err(E::BadShape {
            source: ShapeError::Overflow { .. },
            ..
        })
    ));
    assert_eq!(
        GgufHeader::parse(&one("t", &[8], 0, 16).0),
        Err(E::MisalignedTensor {
            tensor: "t".into(),
            offset: 16,
            alignment: 32
        })
    );
    // Out of bounds: 8 f32 at data offset 64 + 32 need the file to reach byte 128.
    let r = one("t", &[8], 0, 32);
    assert_eq!(r.0.len(), 24 + 8 + 1 + 4 + 8 + 4 + 8);
    assert!(parse_file(&r.clone_padded(128)).is_ok());
    assert_eq!(
        parse_file(&r.clone_padded(127)),
        Err(E::TensorOutOfBounds {
            tensor: "t".into(),
            start: 96,
            end: 128,
            file_len: 127
        })
    );
    assert!(matches!(
        parse_file(&one("t", &[8], 0, u64::MAX - 31).clone_padded(128)),
        Err(E::TensorOutOfBounds { .. })
    ));
    // Without a file length (a prefix), bounds are unknown and not checked.
    assert!(GgufHeader::parse(&r.0).is_ok());

    let mut r = Raw::start(3, 2, 0);
    r.tensor("t", &[8], 0, 0).tensor("t", &[8], 0, 32);
    assert_eq!(
        GgufHeader::parse(&r.0),
        Err(E::DuplicateTensor { tensor: "t".into() })
    );
    let mut r = Raw::start(3, 2, 0);
    r.tensor("a", &[16], 0, 0).tensor("b", &[8], 0, 32);
    assert_eq!(
        GgufHeader::parse(&r.0),
        Err(E::OverlappingTensors {
            tensor: "b".into(),
            other: "a".into()
        })
    );

    // Errors stick: later pushes repeat them.
    let mut reader = GgufReader::new();
    assert!(reader.push(b"XXXX").is_err());
    assert_eq!(reader.push(b"GGUF"), Err(E::BadMagic { found: *b"XXXX" }));
}

impl Raw {
    fn clone_padded(&self, to: usize) -> Vec<u8> {
        Raw(self.0.clone()).padded(to)
    }
}

#[test]
fn limits_are_configurable() {
    let mut r = Raw::start(3, 0, 1);
    r.str("tokens")
        .u32(9)
        .u32(8)
        .u64(3)
        .str("a")
        .str("b")
        .str("c");
    assert!(GgufHeader::parse(&r.0).is_ok());
    let strict = Limits {
        max_array_len: 2,
        ..Limits::default()
    };
    let mut reader = GgufReader::with_limits(strict);
    assert!(matches!(
        reader.push(&r.0),
        Err(GgufError::CountTooLarge {
            count: 3,
            limit: 2,
            ..
        })
    ));
    let strict = Limits {
        max_string_len: 5,
        ..Limits::default()
    };
    let mut reader = GgufReader::with_limits(strict);
    assert!(matches!(
        reader.push(&r.0),
        Err(GgufError::StringTooLong { len: 6, .. })
    ));
}
