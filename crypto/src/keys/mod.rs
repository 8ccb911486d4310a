//! The key hierarchy: a master key (KEK) wraps per-case keys; a case key wraps each file's
//! data key (see [`crate::stream`]) and seals short values (see [`crate::seal`]).
//!
//! Destroying a case key makes everything encrypted under it unreadable everywhere, backups
//! included (crypto-shredding).

mod keyfile;
mod keyring;
mod tag;

use std::fmt;
use std::str::FromStr;

use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::aead::{self, KEY_LEN};
use crate::error::{CryptoError, Result};

pub use keyring::Keyring;

/// A 128-bit random key identifier. Not secret. Shown as 32 lowercase hex digits.
#[derive(
    Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct KeyId(pub [u8; 16]);

impl KeyId {
    /// A fresh random identifier.
    pub fn random() -> KeyId {
        let mut id = [0u8; 16];
        aead::fill_random(&mut id);
        KeyId(id)
    }

    /// The raw 16 bytes.
    pub fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl FromStr for KeyId {
    type Err = CryptoError;

    /// Parses exactly 32 hex digits (either case).
    fn from_str(s: &str) -> Result<KeyId> {
        let bytes = s.as_bytes();
        if bytes.len() != 32 {
            return Err(CryptoError::InvalidInput("key id must be 32 hex digits"));
        }
        let mut id = [0u8; 16];
        for (out, pair) in id.iter_mut().zip(bytes.chunks_exact(2)) {
            let hi = hex_value(pair[0]);
            let lo = hex_value(pair[1]);
            match (hi, lo) {
                (Some(hi), Some(lo)) => *out = (hi << 4) | lo,
                _ => return Err(CryptoError::InvalidInput("key id must be 32 hex digits")),
            }
        }
        Ok(KeyId(id))
    }
}

fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// The master key-encryption key (KEK): 32 secret bytes and a [`KeyId`].
///
/// Zeroized on drop; `Debug` prints only the id.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct MasterKey {
    #[zeroize(skip)]
    id: KeyId,
    key: [u8; KEY_LEN],
}

impl MasterKey {
    /// A fresh random master key with a fresh id.
    pub fn generate() -> MasterKey {
        // Filled in place, so no copy of the key is left behind on the stack.
        let mut master = MasterKey {
            id: KeyId::random(),
            key: [0; KEY_LEN],
        };
        aead::fill_random(&mut master.key);
        master
    }

    /// Builds a master key from its id and bytes (key file parsing); `None` unless `key` is
    /// 32 bytes long.
    pub(crate) fn from_slice(id: KeyId, key: &[u8]) -> Option<MasterKey> {
        if key.len() != KEY_LEN {
            return None;
        }
        let mut master = MasterKey {
            id,
            key: [0; KEY_LEN],
        };
        master.key.copy_from_slice(key);
        Some(master)
    }

    /// The key's id.
    pub fn id(&self) -> KeyId {
        self.id
    }

    /// The secret bytes (key file writing, wrapping).
    pub(crate) fn secret(&self) -> &[u8; KEY_LEN] {
        &self.key
    }
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MasterKey")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// A per-case key: 32 secret bytes and a [`KeyId`]. It wraps the data key of every file of
/// the case and seals the case's short values.
///
/// Zeroized on drop; `Debug` prints only the id.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct CaseKey {
    #[zeroize(skip)]
    id: KeyId,
    key: [u8; KEY_LEN],
}

impl CaseKey {
    /// A fresh random case key with a fresh id.
    pub fn generate() -> CaseKey {
        let mut case_key = CaseKey {
            id: KeyId::random(),
            key: [0; KEY_LEN],
        };
        aead::fill_random(&mut case_key.key);
        case_key
    }

    /// Rebuilds a case key from known bytes, e.g. for a published test vector. Production
    /// code gets case keys from [`CaseKey::generate`] and [`Keyring::unwrap_case_key`].
    pub fn from_bytes(id: KeyId, key: [u8; KEY_LEN]) -> CaseKey {
        CaseKey { id, key }
    }

    /// The key's id.
    pub fn id(&self) -> KeyId {
        self.id
    }

    /// The AES-256-GCM key.
    pub(crate) fn aead_key(&self) -> aws_lc_rs::aead::LessSafeKey {
        aead::key(&self.key)
    }
}

impl fmt::Debug for CaseKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CaseKey")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// A case key wrapped by a master key, as stored in the metadata database.
///
/// `bytes` = nonce (12) ‖ AES-256-GCM ciphertext (32) ‖ tag (16). The AAD is
/// `"casevault/v1/case-key" ‖ kek_id ‖ key_id`, so neither id can be relabelled.
#[derive(Clone, PartialEq, Eq, Debug, serde::Serialize, serde::Deserialize)]
pub struct WrappedKey {
    /// Id of the master key that wrapped it.
    pub kek_id: KeyId,
    /// Id of the wrapped case key.
    pub key_id: KeyId,
    /// nonce ‖ ciphertext ‖ tag.
    pub bytes: Vec<u8>,
}

/// Length of [`WrappedKey::bytes`] (and of the wrapped data key in a stream header).
pub const WRAPPED_KEY_LEN: usize = aead::NONCE_LEN + KEY_LEN + aead::TAG_LEN;

const CASE_KEY_AAD: &[u8] = b"casevault/v1/case-key";

fn case_key_aad(kek_id: KeyId, key_id: KeyId) -> [u8; CASE_KEY_AAD.len() + 32] {
    let mut aad = [0u8; CASE_KEY_AAD.len() + 32];
    aad[..CASE_KEY_AAD.len()].copy_from_slice(CASE_KEY_AAD);
    aad[CASE_KEY_AAD.len()..CASE_KEY_AAD.len() + 16].copy_from_slice(&kek_id.0);
    aad[CASE_KEY_AAD.len() + 16..].copy_from_slice(&key_id.0);
    aad
}

/// Wraps `case_key` under `kek`.
pub(crate) fn wrap(kek: &MasterKey, case_key: &CaseKey) -> WrappedKey {
    let aad = case_key_aad(kek.id, case_key.id);
    let mut bytes = Vec::with_capacity(WRAPPED_KEY_LEN);
    aead::seal_append(&aead::key(kek.secret()), &aad, &case_key.key, &mut bytes);
    WrappedKey {
        kek_id: kek.id,
        key_id: case_key.id,
        bytes,
    }
}

/// Unwraps `wrapped` with `kek` (whose id the caller has matched).
pub(crate) fn unwrap(kek: &MasterKey, wrapped: &WrappedKey) -> Result<CaseKey> {
    if wrapped.bytes.len() != WRAPPED_KEY_LEN {
        return Err(CryptoError::integrity());
    }
    let aad = case_key_aad(wrapped.kek_id, wrapped.key_id);
    let mut plain = zeroize::Zeroizing::new(Vec::with_capacity(KEY_LEN));
    aead::open_append(&aead::key(kek.secret()), &aad, &wrapped.bytes, &mut plain)
        .map_err(|()| CryptoError::integrity())?;
    if plain.len() != KEY_LEN {
        return Err(CryptoError::integrity());
    }
    let mut case_key = CaseKey {
        id: wrapped.key_id,
        key: [0; KEY_LEN],
    };
    case_key.key.copy_from_slice(&plain);
    Ok(case_key)
}

/// Opens a 32-byte key sealed with [`aead::seal_append`] (stream data keys).
pub(crate) fn open_key(
    key: &aws_lc_rs::aead::LessSafeKey,
    aad: &[u8],
    sealed: &[u8],
) -> Result<zeroize::Zeroizing<[u8; KEY_LEN]>> {
    let mut plain = zeroize::Zeroizing::new(Vec::with_capacity(KEY_LEN));
    aead::open_append(key, aad, sealed, &mut plain).map_err(|()| CryptoError::integrity())?;
    let mut out = zeroize::Zeroizing::new([0u8; KEY_LEN]);
    if plain.len() != KEY_LEN {
        return Err(CryptoError::integrity());
    }
    out.copy_from_slice(&plain);
    Ok(out)
}

#[cfg(test)]
mod vector {
    use super::*;
    use crate::hash::to_hex;

    /// Prints the sealed-value and wrapped-key test vector (`tests/vectors/keys-v1.txt`).
    /// `cargo test -p casevault-crypto --lib print_keys_vector -- --ignored --nocapture`
    #[test]
    #[ignore = "generates the published test vector"]
    fn print_keys_vector() {
        let case_key = CaseKey::from_bytes(
            KeyId(std::array::from_fn(|i| i as u8)),
            std::array::from_fn(|i| 0x20 + i as u8),
        );
        let master_key: Vec<u8> = (0x40..0x60).collect();
        let master = MasterKey::from_slice(KeyId([0xee; 16]), &master_key).expect("32 bytes");
        let sealed = case_key.seal(b"file-name\x00f1", b"scan.pdf");
        println!("sealed_context = {}", to_hex(b"file-name\x00f1"));
        println!("sealed = {}", to_hex(&sealed.0));
        let wrapped = wrap(&master, &case_key);
        println!("master_key_id = {}", master.id());
        println!("master_key = {}", to_hex(master.secret()));
        println!("wrapped = {}", to_hex(&wrapped.bytes));
    }
}
