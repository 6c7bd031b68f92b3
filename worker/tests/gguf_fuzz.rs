//! Bounded-time mutation fuzzing of the GGUF reader over real headers: bit flips, byte writes,
//! huge length fields, insertions, deletions, truncations. Every mutant must give a header or a
//! typed error (never a panic), the same result whether parsed whole or in chunks, and the
//! parser's peak allocation must stay proportional to the input, whatever lengths it declares.
//!
//! Deterministic (seeded); `GGUF_FUZZ_SECS` runs it longer (default 3 s in all).

use hearth_worker::gguf::{GgmlType, GgufError, GgufHeader, GgufReader, GgufWriter, MetadataValue};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::time::{Duration, Instant};

/// Counts this thread's live heap bytes and their peak.
struct Counting;

thread_local! {
    static LIVE: Cell<isize> = const { Cell::new(0) };
    static PEAK: Cell<isize> = const { Cell::new(0) };
}

fn track(delta: isize) {
    let _ = LIVE.try_with(|live| {
        let now = live.get() + delta;
        live.set(now);
        let _ = PEAK.try_with(|p| p.set(p.get().max(now)));
    });
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc(layout);
        if !p.is_null() {
            track(layout.size() as isize);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout);
        track(-(layout.size() as isize));
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = System.realloc(ptr, layout, new_size);
        if !p.is_null() {
            track(new_size as isize - layout.size() as isize);
        }
        p
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// Peak bytes allocated (above the starting level) while `f` runs on this thread.
fn peak_during<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let base = LIVE.with(|l| l.get());
    PEAK.with(|p| p.set(base));
    let out = f();
    let peak = PEAK.with(|p| p.get()) - base;
    (out, peak.max(0) as usize)
}

const MODEL: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../.cache/fixtures/SmolLM2-135M-Instruct.Q4_1.gguf"
);

/// The real header (plus a little data), and the real file length.
fn real_header() -> (Vec<u8>, u64) {
    let file = std::fs::read(MODEL).unwrap_or_else(|e| {
        panic!("{MODEL}: {e}. Run `cargo xtask fixtures` to fetch the test models.")
    });
    let h = GgufHeader::parse(&file).expect("real header parses");
    (
        file[..h.data_offset as usize + 64].to_vec(),
        file.len() as u64,
    )
}

/// A small file with the real metadata (arrays cut to 40 elements) and 12 small tensors of
/// mixed types: mutations then hit every structure often.
fn small_file(real: &[u8]) -> Vec<u8> {
    let h = GgufHeader::parse(real).expect("real header parses");
    let mut w = GgufWriter::new();
    for (k, v) in &h.metadata {
        let v = match v {
            MetadataValue::Array(items) => {
                MetadataValue::Array(items.iter().take(40).cloned().collect())
            }
            other => other.clone(),
        };
        w.set(k.clone(), v);
    }
    w.set(
        "test.nested",
        MetadataValue::Array(vec![
            MetadataValue::Array(vec![MetadataValue::U16(1), MetadataValue::U16(2)]),
            MetadataValue::Array(vec![MetadataValue::from("x")]),
        ]),
    );
    let types = [
        GgmlType::F32,
        GgmlType::Q8_0,
        GgmlType::Q6K,
        GgmlType::Q4_1,
        GgmlType::F16,
        GgmlType::Q4K,
    ];
    let mut data = Vec::new();
    for (i, t) in h.tensors.iter().take(12).enumerate() {
        let ty = types[i % types.len()];
        let dims: Vec<u64> = if t.dims.len() == 1 {
            vec![256]
        } else {
            vec![256, 2]
        };
        w.add_tensor(t.name.clone(), &dims, ty).unwrap();
        data.push(vec![
            i as u8;
            hearth_worker::gguf::tensor_bytes(ty, &dims).unwrap()
                as usize
        ]);
    }
    let refs: Vec<&[u8]> = data.iter().map(|d| d.as_slice()).collect();
    w.to_bytes(&refs).unwrap()
}

const HUGE: [u64; 8] = [
    u64::MAX,
    u64::MAX - 7,
    1 << 63,
    1 << 40,
    1 << 32,
    u32::MAX as u64,
    1 << 24,
    0,
];

fn mutate(rng: &mut StdRng, input: &[u8], hot: usize) -> Vec<u8> {
    let mut b = input.to_vec();
    for _ in 0..rng.random_range(1..=4) {
        if b.is_empty() {
            b.extend_from_slice(b"GGUF");
        }
        // Half the mutations land in the first `hot` bytes (preamble, keys, small values).
        let pos = if rng.random_bool(0.5) {
            rng.random_range(0..b.len().min(hot))
        } else {
            rng.random_range(0..b.len())
        };
        match rng.random_range(0..7) {
            0 => b[pos] ^= 1 << rng.random_range(0..8),
            1 => b[pos] = rng.random(),
            2 => {
                let v = if rng.random_bool(0.8) {
                    HUGE[rng.random_range(0..HUGE.len())]
                } else {
                    rng.random()
                };
                let width = if rng.random_bool(0.5) { 8 } else { 4 };
                let end = (pos + width).min(b.len());
                b[pos..end].copy_from_slice(&v.to_le_bytes()[..end - pos]);
            }
            3 => b.truncate(pos),
            4 => {
                let n = rng.random_range(1..=16);
                let ins: Vec<u8> = (0..n).map(|_| rng.random()).collect();
                b.splice(pos..pos, ins);
            }
            5 => {
                let end = (pos + rng.random_range(1..=64)).min(b.len());
                b.drain(pos..end);
            }
            _ => {
                let end = (pos + rng.random_range(1..=64)).min(b.len());
                let dup = b[pos..end].to_vec();
                b.splice(pos..pos, dup);
            }
        }
    }
    b
}

fn chunked(bytes: &[u8], file_len: u64, chunk: usize) -> Result<GgufHeader, GgufError> {
    let mut r = GgufReader::new().with_file_len(file_len);
    for c in bytes.chunks(chunk.max(1)) {
        if r.push(c)? {
            break;
        }
    }
    r.finish()
}

/// Runs one mutant through every entry point; returns whether it parsed.
fn check(bytes: &[u8], file_len: u64, chunk: usize, what: &str) -> bool {
    let (whole, peak) = peak_during(|| {
        let mut r = GgufReader::new().with_file_len(file_len);
        let _ = r.push(bytes);
        r.finish()
    });
    let bound = 64 * bytes.len() + (8 << 20);
    assert!(
        peak <= bound,
        "{what}: parsing {} bytes peaked at {peak} bytes",
        bytes.len()
    );
    let (parts, peak) = peak_during(|| chunked(bytes, file_len, chunk));
    assert!(
        peak <= bound,
        "{what}: chunked parsing of {} bytes peaked at {peak} bytes",
        bytes.len()
    );
    // Compared through Debug: a mutated float may be NaN, which is not equal to itself.
    let same = |a: &Result<GgufHeader, GgufError>, b: &Result<GgufHeader, GgufError>| {
        format!("{a:?}") == format!("{b:?}")
    };
    assert!(
        same(&whole, &parts),
        "{what}: chunks of {chunk} disagree with the whole parse"
    );
    // Without a file length the same bytes may only be more permissive.
    let prefix = GgufHeader::parse(bytes);
    if whole.is_ok() {
        assert!(same(&prefix, &whole), "{what}: prefix parse");
    }
    whole.is_ok()
}

#[test]
fn mutated_real_headers_never_panic_and_stay_bounded() {
    let secs: f64 = std::env::var("GGUF_FUZZ_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3.0);
    let (real, real_len) = real_header();
    let small = small_file(&real);
    assert!(GgufHeader::parse_file(&small).is_ok());

    let start = Instant::now();
    let budget = Duration::from_secs_f64(secs);
    let (mut runs, mut parsed, mut real_runs) = (0u64, 0u64, 0u64);
    let mut seed = 0u64;
    while start.elapsed() < budget {
        seed += 1;
        let mut rng = StdRng::seed_from_u64(seed);
        // One in 16 mutants is of the full 1.8 MB real header, the rest of the small file.
        let (base, file_len, hot) = if seed.is_multiple_of(16) {
            real_runs += 1;
            (&real, None, 4096)
        } else {
            (&small, None, small.len())
        };
        let bytes = mutate(&mut rng, base, hot);
        // The mutant is the whole file, or (for the real header) a prefix of a file of the
        // real length.
        let file_len = file_len.unwrap_or(if seed.is_multiple_of(16) {
            real_len
        } else {
            bytes.len() as u64
        });
        let chunk = [1usize, 3, 64, 4096, 1 << 20][rng.random_range(0..5)];
        let chunk = if seed.is_multiple_of(16) && chunk < 64 {
            4096
        } else {
            chunk
        };
        let what = format!("seed {seed}");
        let outcome = std::panic::catch_unwind(|| check(&bytes, file_len, chunk, &what));
        match outcome {
            Ok(ok) => parsed += u64::from(ok),
            Err(_) => {
                let path = std::env::temp_dir().join(format!("gguf-fuzz-seed-{seed}.bin"));
                let _ = std::fs::write(&path, &bytes);
                panic!("seed {seed} failed; input saved to {}", path.display());
            }
        }
        runs += 1;
    }
    eprintln!("gguf fuzz: {runs} mutants ({real_runs} of the full real header), {parsed} still parsed, in {:.1} s", start.elapsed().as_secs_f64());
    assert!(runs >= 200, "only {runs} mutants in {secs} s");
    assert!(real_runs >= 3);
}
