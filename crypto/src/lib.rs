//! casevault cryptography: the streaming AES-256-GCM file format, the key hierarchy
//! (master key → case keys → per-file data keys), sealed short values, argon2id password
//! hashing, random tokens and SHA-256.
//!
//! Pure computation: no network, no database. The only file I/O is the master key file
//! ([`Keyring::load_or_create`], [`Keyring::save`]). See `FORMAT.md` for the byte formats.

mod aead;
pub mod error;
pub mod hash;
pub mod keys;
pub mod password;
pub mod seal;
pub mod stream;
pub mod token;

pub use error::{CryptoError, Result};
pub use hash::{Sha256, sha256};
pub use keys::{CaseKey, KeyId, Keyring, MasterKey, WrappedKey};
pub use password::{Argon2Params, PasswordHash, PasswordHasher};
pub use seal::Sealed;
pub use stream::{
    CHUNK_OVERHEAD, DEFAULT_CHUNK_SIZE, Decryptor, Encryptor, HEADER_LEN, Header, Layout,
    NONCE_LEN, RangePlan, SuspendedStream, TAG_LEN, decrypt_all, encrypt_all,
};
pub use token::{Token, TokenHash, ct_eq};
