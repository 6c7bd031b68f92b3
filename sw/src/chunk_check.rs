//! A chunk's bytes checked as they stream in: never more than the manifest's size is accepted,
//! and nothing counts as the chunk until its length and sha256 both match the manifest.

use hearth_protocol::ChunkEntry;
use sha2::{Digest, Sha256};
use std::fmt;

/// Downloads of one chunk, the first included. Retries bypass the HTTP cache.
pub const MAX_ATTEMPTS: u32 = 3;

/// Why a chunk could not be delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChunkError {
    /// The server answered with a status other than 200.
    Http { status: u16 },
    /// The request or the body failed mid-way (offline, connection cut).
    Network {
        received: u64,
        expected: u64,
        message: String,
    },
    /// The body is longer than the manifest says.
    TooLong { expected: u64 },
    /// The body ended early.
    Truncated { received: u64, expected: u64 },
    /// All bytes arrived but they are not the chunk the manifest names.
    Mismatch { actual: String, expected: String },
    /// The browser refused to store it (QuotaExceededError).
    StorageFull,
    /// Storing failed for another reason.
    Storage(String),
}

impl ChunkError {
    /// Whether another download may succeed: a server error or bad bytes may be transient,
    /// a missing file or a full disk is not.
    pub fn retryable(&self) -> bool {
        match self {
            Self::Http { status } => *status >= 500 || *status == 408 || *status == 429,
            Self::Network { .. } | Self::TooLong { .. } | Self::Truncated { .. } => true,
            Self::Mismatch { .. } => true,
            Self::StorageFull | Self::Storage(_) => false,
        }
    }

    /// The HTTP status of the error response that answers the page.
    pub fn status(&self) -> u16 {
        match self {
            Self::StorageFull => 507,
            Self::Storage(_) => 500,
            _ => 502,
        }
    }
}

impl fmt::Display for ChunkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Http { status } => write!(f, "the server answered HTTP {status}"),
            Self::Network {
                received,
                expected,
                message,
            } => write!(
                f,
                "the network failed after {received} of {expected} bytes ({message})"
            ),
            Self::TooLong { expected } => {
                write!(
                    f,
                    "the server sent more than the manifest's {expected} bytes"
                )
            }
            Self::Truncated { received, expected } => {
                write!(
                    f,
                    "it was truncated: {received} of {expected} bytes arrived"
                )
            }
            Self::Mismatch { actual, expected } => write!(
                f,
                "its sha256 is {actual}, the manifest says {expected} (corrupted in transit)"
            ),
            Self::StorageFull => write!(
                f,
                "storage is full: the browser refused to store it (free space or evict a model)"
            ),
            Self::Storage(message) => write!(f, "it could not be stored: {message}"),
        }
    }
}

/// The message of the error response and of `SwEvent::ChunkFailed`.
pub fn failure_message(
    chunk: &str,
    manifest_url: &str,
    attempts: u32,
    error: &ChunkError,
) -> String {
    let tries = if attempts == 1 {
        String::new()
    } else {
        format!(" after {attempts} attempts")
    };
    format!("chunk {chunk} of {manifest_url} failed{tries}: {error}")
}

/// Streaming verification of one download of `entry`.
pub struct ChunkCheck<'a> {
    entry: &'a ChunkEntry,
    hasher: Sha256,
    received: u64,
}

impl<'a> ChunkCheck<'a> {
    pub fn new(entry: &'a ChunkEntry) -> Self {
        Self {
            entry,
            hasher: Sha256::new(),
            received: 0,
        }
    }

    /// Bytes accepted so far.
    pub fn received(&self) -> u64 {
        self.received
    }

    /// Takes the next piece of the body; refuses anything past the manifest's size, so a
    /// hostile or broken server cannot make the service worker hold more than one chunk.
    pub fn feed(&mut self, bytes: &[u8]) -> Result<(), ChunkError> {
        let total = self.received.saturating_add(bytes.len() as u64);
        if total > self.entry.size {
            return Err(ChunkError::TooLong {
                expected: self.entry.size,
            });
        }
        self.hasher.update(bytes);
        self.received = total;
        Ok(())
    }

    /// The body ended: the chunk is good only when every byte arrived and the hash matches.
    pub fn finish(self) -> Result<(), ChunkError> {
        if self.received < self.entry.size {
            return Err(ChunkError::Truncated {
                received: self.received,
                expected: self.entry.size,
            });
        }
        let actual = hex::encode(self.hasher.finalize());
        if actual != self.entry.sha256 {
            return Err(ChunkError::Mismatch {
                actual,
                expected: self.entry.sha256.clone(),
            });
        }
        Ok(())
    }

    /// The error for a body that failed mid-way.
    pub fn network_error(&self, message: impl Into<String>) -> ChunkError {
        ChunkError::Network {
            received: self.received,
            expected: self.entry.size,
            message: message.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sha256_hex;

    fn entry(bytes: &[u8]) -> ChunkEntry {
        ChunkEntry {
            name: "net_part0.gguf.chunk".into(),
            offset: 0,
            size: bytes.len() as u64,
            sha256: sha256_hex(bytes),
        }
    }

    #[test]
    fn pieces_of_the_right_bytes_pass() {
        let bytes: Vec<u8> = (0..1000u32).map(|i| (i * 7) as u8).collect();
        let e = entry(&bytes);
        let mut check = ChunkCheck::new(&e);
        for piece in bytes.chunks(333) {
            check.feed(piece).unwrap();
        }
        assert_eq!(check.received(), 1000);
        check.finish().unwrap();
    }

    #[test]
    fn a_flipped_byte_is_a_mismatch_naming_both_hashes() {
        let bytes = vec![5u8; 64];
        let e = entry(&bytes);
        let mut bad = bytes.clone();
        bad[40] ^= 1;
        let mut check = ChunkCheck::new(&e);
        check.feed(&bad).unwrap();
        let err = check.finish().unwrap_err();
        assert!(matches!(&err, ChunkError::Mismatch { expected, .. } if *expected == e.sha256));
        assert!(err.retryable());
        assert_eq!(err.status(), 502);
        let message = failure_message(
            "net_part0.gguf.chunk",
            "http://h/m/net_metadata.json",
            3,
            &err,
        );
        assert!(message.starts_with(
            "chunk net_part0.gguf.chunk of http://h/m/net_metadata.json failed after 3 attempts: its sha256 is"
        ));
    }

    #[test]
    fn short_and_long_bodies_are_refused() {
        let bytes = vec![1u8; 10];
        let e = entry(&bytes);
        let mut short = ChunkCheck::new(&e);
        short.feed(&bytes[..4]).unwrap();
        assert_eq!(
            short.finish(),
            Err(ChunkError::Truncated {
                received: 4,
                expected: 10
            })
        );
        let mut long = ChunkCheck::new(&e);
        long.feed(&bytes).unwrap();
        assert_eq!(long.feed(&[0]), Err(ChunkError::TooLong { expected: 10 }));
        assert_eq!(long.received(), 10);
    }

    #[test]
    fn only_transient_failures_are_retried() {
        assert!(ChunkError::Http { status: 503 }.retryable());
        assert!(!ChunkError::Http { status: 404 }.retryable());
        assert!(!ChunkError::StorageFull.retryable());
        assert_eq!(ChunkError::StorageFull.status(), 507);
        assert!(ChunkError::StorageFull
            .to_string()
            .contains("storage is full"));
        let e = entry(b"abc");
        let mut check = ChunkCheck::new(&e);
        check.feed(b"a").unwrap();
        let cut = check.network_error("TypeError: network error");
        assert!(cut.retryable());
        assert_eq!(
            cut.to_string(),
            "the network failed after 1 of 3 bytes (TypeError: network error)"
        );
    }
}
