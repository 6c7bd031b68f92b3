//! Content verification: nothing enters a cache unless its bytes hash to what the list says.

use sha2::{Digest, Sha256};

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

#[derive(Debug, PartialEq, Eq)]
pub struct IntegrityError {
    pub path: String,
    pub expected: String,
    pub actual: String,
}

impl std::fmt::Display for IntegrityError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} is corrupted: its sha256 is {}, the asset list says {}",
            self.path, self.actual, self.expected
        )
    }
}

/// Checks `bytes` against the expected lower-case hex sha256.
pub fn verify(path: &str, bytes: &[u8], expected: &str) -> Result<(), IntegrityError> {
    let actual = sha256_hex(bytes);
    if actual.eq_ignore_ascii_case(expected) {
        Ok(())
    } else {
        Err(IntegrityError {
            path: path.to_string(),
            expected: expected.to_string(),
            actual,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_digest_and_mismatch() {
        // FIPS 180-2 test vector.
        let abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        assert_eq!(sha256_hex(b"abc"), abc);
        assert!(verify("a.js", b"abc", abc).is_ok());
        let err = verify("a.js", b"abd", abc).unwrap_err();
        assert_eq!(err.path, "a.js");
        assert!(err.to_string().contains("a.js is corrupted"));
    }
}
