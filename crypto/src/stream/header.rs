//! The fixed-size stream header (format v1, see `FORMAT.md`).

use super::{HEADER_LEN, MAX_CHUNK_SIZE, MIN_CHUNK_SIZE};
use crate::error::{CryptoError, Result};
use crate::keys::{KeyId, WRAPPED_KEY_LEN};

/// The 7-byte magic that opens every encrypted object.
pub const MAGIC: &[u8; 7] = b"CASEVLT";
/// The only format version this build writes and reads.
pub const VERSION: u8 = 1;
/// Algorithm 1: AES-256-GCM with a random 96-bit nonce per chunk.
pub const ALGORITHM_AES256GCM_RANDOM_NONCE: u8 = 1;

const OFF_VERSION: usize = 7;
const OFF_ALGORITHM: usize = 8;
const OFF_CHUNK_SIZE: usize = 9;
const OFF_CASE_KEY_ID: usize = 13;
const OFF_WRAPPED: usize = 29;
const OFF_STREAM_ID: usize = OFF_WRAPPED + WRAPPED_KEY_LEN;
const _: () = assert!(OFF_STREAM_ID + 16 == HEADER_LEN);

/// Domain prefix of the AAD that wraps a stream's data key with its case key.
pub(crate) const DATA_KEY_AAD: &[u8] = b"casevault/v1/data-key";

/// A parsed stream header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    chunk_size: u32,
    case_key_id: KeyId,
    wrapped_data_key: [u8; WRAPPED_KEY_LEN],
    stream_id: [u8; 16],
}

impl Header {
    /// Assembles a header (the encryptor's side).
    pub(crate) fn new(
        chunk_size: u32,
        case_key_id: KeyId,
        wrapped_data_key: [u8; WRAPPED_KEY_LEN],
        stream_id: [u8; 16],
    ) -> Header {
        Header {
            chunk_size,
            case_key_id,
            wrapped_data_key,
            stream_id,
        }
    }

    /// Parses the first [`HEADER_LEN`] bytes of `bytes` strictly.
    ///
    /// [`CryptoError::BadHeader`] if fewer than `HEADER_LEN` bytes are given, the magic is
    /// wrong or the chunk size is out of range; [`CryptoError::UnsupportedVersion`] and
    /// [`CryptoError::UnsupportedAlgorithm`] for unknown version or algorithm bytes.
    pub fn parse(bytes: &[u8]) -> Result<Header> {
        let bytes: &[u8; HEADER_LEN] = bytes
            .get(..HEADER_LEN)
            .and_then(|b| b.try_into().ok())
            .ok_or(CryptoError::BadHeader("truncated header"))?;
        if &bytes[..OFF_VERSION] != MAGIC {
            return Err(CryptoError::BadHeader("not a casevault object (bad magic)"));
        }
        if bytes[OFF_VERSION] != VERSION {
            return Err(CryptoError::UnsupportedVersion(bytes[OFF_VERSION]));
        }
        if bytes[OFF_ALGORITHM] != ALGORITHM_AES256GCM_RANDOM_NONCE {
            return Err(CryptoError::UnsupportedAlgorithm(bytes[OFF_ALGORITHM]));
        }
        let chunk_size = u32::from_be_bytes(array(&bytes[OFF_CHUNK_SIZE..OFF_CASE_KEY_ID]));
        if !(MIN_CHUNK_SIZE..=MAX_CHUNK_SIZE).contains(&chunk_size) {
            return Err(CryptoError::BadHeader("chunk size out of range"));
        }
        Ok(Header {
            chunk_size,
            case_key_id: KeyId(array(&bytes[OFF_CASE_KEY_ID..OFF_WRAPPED])),
            wrapped_data_key: array(&bytes[OFF_WRAPPED..OFF_STREAM_ID]),
            stream_id: array(&bytes[OFF_STREAM_ID..]),
        })
    }

    /// Plaintext bytes per chunk.
    pub fn chunk_size(&self) -> u32 {
        self.chunk_size
    }

    /// Id of the case key that wraps this stream's data key.
    pub fn case_key_id(&self) -> KeyId {
        self.case_key_id
    }

    /// The stream's random 128-bit id.
    pub fn stream_id(&self) -> [u8; 16] {
        self.stream_id
    }

    /// The wrapped data key: nonce ‖ ciphertext ‖ tag.
    pub(crate) fn wrapped_data_key(&self) -> &[u8; WRAPPED_KEY_LEN] {
        &self.wrapped_data_key
    }

    /// The AAD under which the case key wraps the data key.
    pub(crate) fn data_key_aad(&self) -> Vec<u8> {
        let mut aad = Vec::with_capacity(DATA_KEY_AAD.len() + 32);
        aad.extend_from_slice(DATA_KEY_AAD);
        aad.extend_from_slice(&self.case_key_id.0);
        aad.extend_from_slice(&self.stream_id);
        aad
    }

    /// The header's bytes.
    pub fn to_bytes(&self) -> [u8; HEADER_LEN] {
        let mut out = [0u8; HEADER_LEN];
        out[..OFF_VERSION].copy_from_slice(MAGIC);
        out[OFF_VERSION] = VERSION;
        out[OFF_ALGORITHM] = ALGORITHM_AES256GCM_RANDOM_NONCE;
        out[OFF_CHUNK_SIZE..OFF_CASE_KEY_ID].copy_from_slice(&self.chunk_size.to_be_bytes());
        out[OFF_CASE_KEY_ID..OFF_WRAPPED].copy_from_slice(&self.case_key_id.0);
        out[OFF_WRAPPED..OFF_STREAM_ID].copy_from_slice(&self.wrapped_data_key);
        out[OFF_STREAM_ID..].copy_from_slice(&self.stream_id);
        out
    }
}

/// Copies a slice whose length the caller has fixed into an array.
fn array<const N: usize>(bytes: &[u8]) -> [u8; N] {
    let mut out = [0u8; N];
    out.copy_from_slice(bytes);
    out
}
