//! The streaming file format v1 (byte-level spec in `FORMAT.md`).
//!
//! A file version is encrypted under its own random data key, wrapped by the case key into
//! a fixed-size [`Header`]. The plaintext is cut into fixed-size chunks, each sealed with
//! AES-256-GCM under a random nonce, with the header hash, the chunk index and a last-chunk
//! flag as AAD (the STREAM construction's ordering and truncation guarantees). Chunk count
//! and plaintext length follow from the object length alone ([`Layout`]), which gives
//! random access for ranged reads with bounded memory.

mod decrypt;
mod encrypt;
mod header;
mod layout;

use zeroize::Zeroizing;

use crate::aead::{self, KEY_LEN};
use crate::error::{CryptoError, Result};
use crate::keys::CaseKey;

pub use decrypt::Decryptor;
pub use encrypt::{Encryptor, SuspendedStream};
pub use header::{ALGORITHM_AES256GCM_RANDOM_NONCE, Header, MAGIC, VERSION};
pub use layout::{Layout, RangePlan};

/// Default plaintext bytes per chunk.
pub const DEFAULT_CHUNK_SIZE: u32 = 64 * 1024;
/// Smallest allowed chunk size.
pub const MIN_CHUNK_SIZE: u32 = 4 * 1024;
/// Largest allowed chunk size.
pub const MAX_CHUNK_SIZE: u32 = 16 * 1024 * 1024;
/// Length of the header: magic (7) ‖ version (1) ‖ algorithm (1) ‖ chunk size (4) ‖ case
/// key id (16) ‖ wrapped data key (60) ‖ stream id (16).
pub const HEADER_LEN: usize = 7 + 1 + 1 + 4 + 16 + crate::keys::WRAPPED_KEY_LEN + 16;
/// Length of a chunk nonce.
pub const NONCE_LEN: usize = aead::NONCE_LEN;
/// Length of a chunk tag.
pub const TAG_LEN: usize = aead::TAG_LEN;
/// Bytes each sealed chunk adds to its plaintext.
pub const CHUNK_OVERHEAD: usize = NONCE_LEN + TAG_LEN;
/// Most chunks one data key may seal (the bound for random 96-bit nonces).
pub const MAX_CHUNKS: u64 = 1 << 32;

/// AAD of chunk `index`: SHA-256(header) ‖ u64 BE index ‖ last flag.
fn chunk_aad(header_hash: &[u8; 32], index: u64, last: bool) -> [u8; 41] {
    let mut aad = [0u8; 41];
    aad[..32].copy_from_slice(header_hash);
    aad[32..40].copy_from_slice(&index.to_be_bytes());
    aad[40] = u8::from(last);
    aad
}

/// AAD of a suspended tail: SHA-256(header) ‖ "tail" ‖ u64 BE next_chunk.
fn tail_aad(header_hash: &[u8; 32], next_chunk: u64) -> [u8; 44] {
    let mut aad = [0u8; 44];
    aad[..32].copy_from_slice(header_hash);
    aad[32..36].copy_from_slice(b"tail");
    aad[36..].copy_from_slice(&next_chunk.to_be_bytes());
    aad
}

/// Unwraps a header's data key with the case key; [`CryptoError::Integrity`] if it is the
/// wrong key or the header was tampered with.
fn open_data_key(case_key: &CaseKey, header: &Header) -> Result<Zeroizing<[u8; KEY_LEN]>> {
    decrypt::check_case_key(case_key, header)?;
    crate::keys::open_key(
        &case_key.aead_key(),
        &header.data_key_aad(),
        header.wrapped_data_key(),
    )
}

/// Encrypts a whole plaintext into one object (header included). For tests and tools;
/// servers stream with [`Encryptor`].
pub fn encrypt_all(case_key: &CaseKey, chunk_size: u32, plaintext: &[u8]) -> Result<Vec<u8>> {
    let mut enc = Encryptor::new(case_key, chunk_size)?;
    let len = Encryptor::ciphertext_len(plaintext.len() as u64, chunk_size);
    let mut out = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    out.extend_from_slice(enc.header_bytes());
    enc.update(plaintext, &mut out)?;
    enc.finish(&mut out)?;
    Ok(out)
}

/// Decrypts and verifies a whole object. For tests and tools; servers read chunk by chunk
/// with [`Decryptor`].
pub fn decrypt_all(case_key: &CaseKey, object: &[u8]) -> Result<Vec<u8>> {
    let dec = Decryptor::new(case_key, object, object.len() as u64)?;
    let layout = dec.layout();
    let mut out = Vec::with_capacity(usize::try_from(layout.plaintext_len()).unwrap_or(0));
    for index in 0..layout.chunk_count() {
        let range = layout.sealed_chunk_range(index);
        let sealed = usize::try_from(range.start)
            .ok()
            .zip(usize::try_from(range.end).ok())
            .and_then(|(s, e)| object.get(s..e))
            .ok_or(CryptoError::chunk(index))?;
        dec.open_chunk_into(index, sealed, &mut out)?;
    }
    Ok(out)
}

#[cfg(test)]
mod vector {
    use super::*;
    use crate::hash::{sha256, to_hex};
    use crate::keys::KeyId;

    /// Prints a fresh test vector with its intermediate values (for `FORMAT.md`).
    /// `cargo test -p casevault-crypto --lib print_test_vector -- --ignored --nocapture`
    #[test]
    #[ignore = "generates the published test vector"]
    fn print_test_vector() {
        let id: [u8; 16] = std::array::from_fn(|i| i as u8);
        let key_bytes: [u8; 32] = std::array::from_fn(|i| 0x20 + i as u8);
        let case_key = CaseKey::from_bytes(KeyId(id), key_bytes);
        let plain: Vec<u8> = (0..4100u32).map(|i| (i % 251) as u8).collect();
        let object = encrypt_all(&case_key, MIN_CHUNK_SIZE, &plain).expect("encrypt");
        let header = Header::parse(&object).expect("header");
        let data_key = open_data_key(&case_key, &header).expect("data key");
        println!("data key     {}", to_hex(&*data_key));
        println!("header hash  {}", to_hex(&sha256(&object[..HEADER_LEN])));
        println!("object       {}", to_hex(&object));
    }
}
