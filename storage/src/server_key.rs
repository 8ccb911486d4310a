//! The server-values key: one key for sealing values that belong to the server rather than
//! to a case (today: the outgoing mail queue), so that they never reach the metadata
//! database in plaintext either.
//!
//! It is a key of the same kind as a case key ([`CaseKey`]), generated the first time it is
//! needed and stored wrapped by the current master key under [`SERVER_KEY`] in the `state`
//! tree. It therefore follows the master key: [`crate::Storage::rotate_master_key`]
//! re-wraps it with the case keys, a master key still wrapping it is never retired, and a
//! metadata backup without the master key file cannot open it. Sealed values bind their
//! own context (e.g. `outbox-to:` ‖ mail id), so they cannot be moved between fields or
//! records.

use casevault_crypto::{CaseKey, KeyId, WrappedKey};

use crate::Storage;
use crate::codec;
use crate::error::Result;
use crate::meta::{Meta, get};

/// Key of the wrapped server-values key in the `state` tree.
pub(crate) const SERVER_KEY: &[u8] = b"server-values-key";

impl Meta {
    /// The wrapped server-values key, if one was created.
    pub(crate) fn server_wrapped_key(&self) -> Result<Option<WrappedKey>> {
        get(&self.trees.state, SERVER_KEY)
    }

    /// Stores `candidate` as the wrapped server-values key unless one exists already, and
    /// returns the one that is stored (so two first uses at once agree on one key).
    fn init_server_wrapped_key(&self, candidate: &WrappedKey) -> Result<WrappedKey> {
        let encoded = codec::encode(candidate)?;
        match self
            .trees
            .state
            .compare_and_swap(SERVER_KEY, None as Option<&[u8]>, Some(encoded))?
        {
            Ok(()) => {
                self.db.flush()?;
                Ok(candidate.clone())
            }
            Err(existing) => match existing.current {
                Some(bytes) => codec::decode(&bytes),
                None => Ok(candidate.clone()),
            },
        }
    }

    /// Replaces the wrapped server-values key (after a master key rotation).
    pub(crate) fn set_server_wrapped_key(&self, wrapped: &WrappedKey) -> Result<()> {
        self.trees
            .state
            .insert(SERVER_KEY, codec::encode(wrapped)?)?;
        self.db.flush()?;
        Ok(())
    }

    /// The id of the master key wrapping the server-values key, if there is one.
    pub(crate) fn server_kek_id(&self) -> Result<Option<KeyId>> {
        Ok(self.server_wrapped_key()?.map(|w| w.kek_id))
    }
}

impl Storage {
    /// The server-values key, created (and wrapped by the current master key) on first use.
    pub(crate) async fn server_values_key(&self) -> Result<CaseKey> {
        let wrapped = match self.meta.run(|m| m.server_wrapped_key()).await? {
            Some(wrapped) => wrapped,
            None => {
                let fresh = CaseKey::generate();
                let candidate = self
                    .keyring
                    .read()
                    .map_err(|_| crate::poisoned())?
                    .wrap_case_key(&fresh);
                self.meta
                    .run(move |m| m.init_server_wrapped_key(&candidate))
                    .await?
            }
        };
        let keyring = self.keyring.read().map_err(|_| crate::poisoned())?;
        Ok(keyring.unwrap_case_key(&wrapped)?)
    }

    /// Re-wraps the server-values key with the current master key; true if it changed.
    pub(crate) async fn rewrap_server_key(&self) -> Result<bool> {
        let Some(wrapped) = self.meta.run(|m| m.server_wrapped_key()).await? else {
            return Ok(false);
        };
        let rewrapped = {
            let keyring = self.keyring.read().map_err(|_| crate::poisoned())?;
            if wrapped.kek_id == keyring.current().id() {
                return Ok(false);
            }
            keyring.rewrap_case_key(&wrapped)?
        };
        self.meta
            .run(move |m| m.set_server_wrapped_key(&rewrapped))
            .await?;
        Ok(true)
    }
}
