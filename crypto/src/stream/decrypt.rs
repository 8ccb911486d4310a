//! The chunk-at-a-time decryptor: random access to any chunk of an object.

use std::fmt;

use aws_lc_rs::aead::LessSafeKey;

use super::{Header, Layout, chunk_aad, open_data_key};
use crate::aead;
use crate::error::{CryptoError, Result};
use crate::hash::sha256;
use crate::keys::CaseKey;

/// Opens the chunks of one encrypted object, in any order.
pub struct Decryptor {
    key: LessSafeKey,
    header_hash: [u8; 32],
    header: Header,
    layout: Layout,
}

impl fmt::Debug for Decryptor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Decryptor")
            .field("layout", &self.layout)
            .finish_non_exhaustive()
    }
}

impl Decryptor {
    /// Prepares to open an object whose first bytes are `header` (at least
    /// [`super::HEADER_LEN`]) and whose whole length, header included, is `ciphertext_len`.
    ///
    /// Header errors as in [`Header::parse`]; [`CryptoError::Integrity`] (no chunk) for the
    /// wrong case key, a tampered data key or an impossible length.
    pub fn new(case_key: &CaseKey, header: &[u8], ciphertext_len: u64) -> Result<Decryptor> {
        let parsed = Header::parse(header)?;
        let data_key = open_data_key(case_key, &parsed)?;
        let layout = Layout::new(parsed.chunk_size(), ciphertext_len)?;
        Ok(Decryptor {
            key: aead::key(&data_key),
            header_hash: sha256(&parsed.to_bytes()),
            header: parsed,
            layout,
        })
    }

    /// The object's geometry.
    pub fn layout(&self) -> Layout {
        self.layout
    }

    /// The parsed header.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The object's plaintext length.
    pub fn plaintext_len(&self) -> u64 {
        self.layout.plaintext_len()
    }

    /// Opens chunk `index` (its bytes are [`Layout::sealed_chunk_range`]). Any failure —
    /// wrong length, index out of range, tampering, a chunk from another position or
    /// object — is [`CryptoError::Integrity`] naming `index`.
    pub fn open_chunk(&self, index: u64, sealed: &[u8]) -> Result<Vec<u8>> {
        let mut out = Vec::with_capacity(sealed.len().saturating_sub(aead::OVERHEAD));
        self.open_chunk_into(index, sealed, &mut out)?;
        Ok(out)
    }

    /// Like [`Decryptor::open_chunk`], appending the plaintext to `out` (so a buffer can be
    /// reused). On error `out` is left as it was.
    pub fn open_chunk_into(&self, index: u64, sealed: &[u8], out: &mut Vec<u8>) -> Result<()> {
        let count = self.layout.chunk_count();
        let range = self.layout.sealed_chunk_range(index);
        if index >= count || sealed.len() as u64 != range.end - range.start {
            return Err(CryptoError::chunk(index));
        }
        let aad = chunk_aad(&self.header_hash, index, index + 1 == count);
        aead::open_append(&self.key, &aad, sealed, out).map_err(|()| CryptoError::chunk(index))
    }
}

// Keep the case-key check in one place for the encryptor and decryptor.
pub(super) fn check_case_key(case_key: &CaseKey, header: &Header) -> Result<()> {
    if case_key.id() == header.case_key_id() {
        Ok(())
    } else {
        Err(CryptoError::integrity())
    }
}
