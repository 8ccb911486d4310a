//! The keyring: the current master key plus older ones kept only to unwrap case keys
//! during a rotation.

use std::path::Path;

use super::{CaseKey, KeyId, MasterKey, WrappedKey, keyfile};
use crate::error::{CryptoError, Result};

/// The current master key plus previous ones kept only to unwrap during rotation.
///
/// Rotation: [`Keyring::rotate`], [`Keyring::save`], re-wrap every case key with
/// [`Keyring::rewrap_case_key`], then [`Keyring::retire`] the old key and save again.
#[derive(Debug)]
pub struct Keyring {
    current: MasterKey,
    previous: Vec<MasterKey>,
}

impl Keyring {
    /// A keyring holding one freshly generated master key.
    pub fn generate() -> Keyring {
        Keyring {
            current: MasterKey::generate(),
            previous: Vec::new(),
        }
    }

    /// Builds a keyring from a current key and previous keys (key file parsing).
    pub(crate) fn from_keys(current: MasterKey, previous: Vec<MasterKey>) -> Keyring {
        Keyring { current, previous }
    }

    /// Loads the keyring at `path`, or creates it (mode 0600, never overwriting a file that
    /// appeared meanwhile) with one fresh master key if there is none.
    ///
    /// Refuses with [`CryptoError::KeyFile`] a file whose mode grants any access to group or
    /// others, a file that is not a regular file, or a malformed one.
    pub fn load_or_create(path: &Path) -> Result<Keyring> {
        keyfile::load_or_create(path)
    }

    /// Parses a keyring from an environment value, in the key file's text format (see
    /// `FORMAT.md`): whitespace-separated `cvk1:<id>:<key>` entries, the current key first.
    pub fn from_env_value(value: &str) -> Result<Keyring> {
        keyfile::parse(value).map_err(|reason| CryptoError::KeyFile {
            path: "<environment>".into(),
            reason,
        })
    }

    /// Writes the keyring to `path` atomically: a 0600 temporary file beside it, fsync,
    /// rename over `path`, fsync of the directory.
    pub fn save(&self, path: &Path) -> Result<()> {
        keyfile::save(self, path)
    }

    /// The keyring in the key file's text format. It contains every secret key: handle it
    /// as the key file itself.
    pub fn to_text(&self) -> zeroize::Zeroizing<String> {
        keyfile::format(self)
    }

    /// The current master key, used for every new wrap.
    pub fn current(&self) -> &MasterKey {
        &self.current
    }

    /// The previous master keys, kept only to unwrap.
    pub fn previous(&self) -> &[MasterKey] {
        &self.previous
    }

    /// Makes a fresh master key current; the old current key is kept as a previous one.
    /// Returns the new key's id. Save the keyring before wrapping anything with it.
    pub fn rotate(&mut self) -> KeyId {
        let old = std::mem::replace(&mut self.current, MasterKey::generate());
        self.previous.insert(0, old);
        self.current.id()
    }

    /// Forgets previous key `id` once nothing is wrapped with it any more. The current key
    /// cannot be retired (rotate first); an unknown id is ignored.
    pub fn retire(&mut self, id: KeyId) {
        self.previous.retain(|k| k.id() != id);
    }

    /// Ids of every key in the ring, the current one first.
    pub fn key_ids(&self) -> Vec<KeyId> {
        std::iter::once(&self.current)
            .chain(&self.previous)
            .map(MasterKey::id)
            .collect()
    }

    /// The key with this id, current or previous.
    pub fn get(&self, id: KeyId) -> Option<&MasterKey> {
        std::iter::once(&self.current)
            .chain(&self.previous)
            .find(|k| k.id() == id)
    }

    /// Wraps `case_key` with the current master key.
    pub fn wrap_case_key(&self, case_key: &CaseKey) -> WrappedKey {
        super::wrap(&self.current, case_key)
    }

    /// Unwraps a case key. [`CryptoError::UnknownKey`] if its master key is not in the ring
    /// (e.g. retired); [`CryptoError::Integrity`] if it was tampered with or relabelled.
    pub fn unwrap_case_key(&self, wrapped: &WrappedKey) -> Result<CaseKey> {
        let kek = self
            .get(wrapped.kek_id)
            .ok_or(CryptoError::UnknownKey(wrapped.kek_id))?;
        super::unwrap(kek, wrapped)
    }

    /// Re-wraps a case key with the current master key (after a rotation). Returns it
    /// unchanged if it already is.
    pub fn rewrap_case_key(&self, wrapped: &WrappedKey) -> Result<WrappedKey> {
        let case_key = self.unwrap_case_key(wrapped)?;
        if wrapped.kek_id == self.current.id() {
            return Ok(wrapped.clone());
        }
        Ok(self.wrap_case_key(&case_key))
    }
}
