//! Short sensitive values (file names, patient references, notes, chat messages) sealed
//! with their case key before they reach the metadata database.
//!
//! Layout: version (1) ‖ nonce (12) ‖ AES-256-GCM ciphertext ‖ tag (16). The AAD is
//! `"casevault/v1/sealed" ‖ version ‖ case key id ‖ context`; the caller's context (e.g.
//! `b"file-name" ‖ file id`) stops a sealed value from being moved to another field or
//! record.

use std::fmt;

use zeroize::Zeroizing;

use crate::aead;
use crate::error::{CryptoError, Result};
use crate::keys::CaseKey;

/// Version byte of the sealed-value layout.
pub const SEALED_VERSION: u8 = 1;
const DOMAIN: &[u8] = b"casevault/v1/sealed";

/// A sealed short value. `Debug` prints only its length.
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Sealed(pub Vec<u8>);

impl fmt::Debug for Sealed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sealed({} bytes)", self.0.len())
    }
}

fn aad(key: &CaseKey, context: &[u8]) -> Vec<u8> {
    let mut aad = Vec::with_capacity(DOMAIN.len() + 17 + context.len());
    aad.extend_from_slice(DOMAIN);
    aad.push(SEALED_VERSION);
    aad.extend_from_slice(&key.id().0);
    aad.extend_from_slice(context);
    aad
}

impl CaseKey {
    /// Seals `plaintext`, binding `context` (which is not stored; the same context must be
    /// given to [`CaseKey::open`]).
    pub fn seal(&self, context: &[u8], plaintext: &[u8]) -> Sealed {
        let mut out = Vec::with_capacity(1 + aead::OVERHEAD + plaintext.len());
        out.push(SEALED_VERSION);
        aead::seal_append(&self.aead_key(), &aad(self, context), plaintext, &mut out);
        Sealed(out)
    }

    /// Opens a value sealed by [`CaseKey::seal`] with the same key and context.
    /// [`CryptoError::Integrity`] on a wrong key, wrong context or any tampering.
    pub fn open(&self, context: &[u8], sealed: &Sealed) -> Result<Zeroizing<Vec<u8>>> {
        let (&version, body) = sealed.0.split_first().ok_or(CryptoError::integrity())?;
        if version != SEALED_VERSION {
            return Err(CryptoError::UnsupportedVersion(version));
        }
        let mut out = Zeroizing::new(Vec::with_capacity(body.len()));
        aead::open_append(&self.aead_key(), &aad(self, context), body, &mut out)
            .map_err(|()| CryptoError::integrity())?;
        Ok(out)
    }

    /// Seals a string.
    pub fn seal_str(&self, context: &[u8], plaintext: &str) -> Sealed {
        self.seal(context, plaintext.as_bytes())
    }

    /// Opens a value sealed by [`CaseKey::seal_str`]. [`CryptoError::InvalidInput`] if the
    /// authenticated plaintext is not UTF-8.
    pub fn open_string(&self, context: &[u8], sealed: &Sealed) -> Result<Zeroizing<String>> {
        let mut bytes = self.open(context, sealed)?;
        match String::from_utf8(std::mem::take(&mut *bytes)) {
            Ok(s) => Ok(Zeroizing::new(s)),
            Err(e) => {
                drop(Zeroizing::new(e.into_bytes()));
                Err(CryptoError::InvalidInput("sealed value is not UTF-8"))
            }
        }
    }
}
