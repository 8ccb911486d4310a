//! The crate's single error type.
//!
//! Every authentication failure — a tampered, truncated, reordered or spliced object, or the
//! wrong key — is reported as [`CryptoError::Integrity`], whatever the cause, so callers never
//! learn more than "this does not verify".

use std::path::PathBuf;

use crate::keys::KeyId;

/// Errors from this crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CryptoError {
    /// Authentication failed: tampered, truncated, reordered or foreign data, or the wrong key.
    /// `chunk` names the stream chunk that failed, when one is known.
    #[error("integrity check failed{}", match chunk { Some(i) => format!(" at chunk {i}"), None => String::new() })]
    Integrity {
        /// The index of the chunk that failed to verify, if the failure is tied to one.
        chunk: Option<u64>,
    },
    /// The data was written in a format version this build does not know.
    #[error("unsupported format version {0}")]
    UnsupportedVersion(u8),
    /// The data names an algorithm this build does not know.
    #[error("unsupported algorithm {0}")]
    UnsupportedAlgorithm(u8),
    /// The header is malformed (short, wrong magic, impossible field).
    #[error("bad header: {0}")]
    BadHeader(&'static str),
    /// A wrapped key names a key-encryption key that is not in the keyring.
    #[error("unknown key {0}")]
    UnknownKey(KeyId),
    /// A data key has sealed as many chunks as it safely can.
    #[error("chunk counter exhausted")]
    CounterExhausted,
    /// An argument was rejected before any cryptography ran.
    #[error("invalid input: {0}")]
    InvalidInput(&'static str),
    /// The master key file (or environment value) is unsafe or malformed.
    #[error("key file {}: {reason}", path.display())]
    KeyFile {
        /// The file concerned (`<environment>` for a key taken from the environment).
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// An I/O error while reading or writing a key file.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// Password hashing failed, or a stored password hash is malformed.
    #[error("password hash: {0}")]
    PasswordHash(String),
}

/// Result type of this crate.
pub type Result<T> = std::result::Result<T, CryptoError>;

impl CryptoError {
    /// An integrity failure not tied to a chunk.
    pub(crate) const fn integrity() -> Self {
        CryptoError::Integrity { chunk: None }
    }

    /// An integrity failure of chunk `index`.
    pub(crate) const fn chunk(index: u64) -> Self {
        CryptoError::Integrity { chunk: Some(index) }
    }
}
