//! The storage crate's one error type.

use casevault_crypto::CryptoError;

use crate::ids::{BlobId, FileId};
use crate::quota::QuotaAccount;

/// Everything that can go wrong in storage. The server maps each variant to one HTTP status.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StorageError {
    /// The named kind of record does not exist (or is not visible to the caller).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// An item with the same name already exists where it was to be stored.
    #[error("an item with this name already exists")]
    NameConflict,
    /// The write would take the account past its quota; nothing was stored.
    #[error("quota exceeded: {needed} more bytes needed, {available} available")]
    QuotaExceeded {
        /// The account that is full.
        account: QuotaAccount,
        /// Bytes the operation needed.
        needed: u64,
        /// Bytes still free.
        available: u64,
    },
    /// The grant cannot be used for this: it does not exist, is revoked, locked or expired,
    /// or its download limit is reached. Deliberately says nothing about which, so that every
    /// case gets the same answer.
    #[error("this share is not available")]
    GrantUnavailable,
    /// The upload would take a grant past its upload cap; nothing was stored.
    #[error("share upload cap exceeded: {needed} more bytes needed, {available} available")]
    GrantCapExceeded {
        /// Bytes the operation needed.
        needed: u64,
        /// Bytes still allowed through the grant.
        available: u64,
    },
    /// The upload's size differs from the size it announced.
    #[error("upload size mismatch: announced {announced} bytes, received {received}")]
    SizeMismatch {
        /// Bytes announced in advance.
        announced: u64,
        /// Bytes actually received (so far).
        received: u64,
    },
    /// The byte range asked for lies outside the file.
    #[error("range not satisfiable for a file of {size} bytes")]
    RangeNotSatisfiable {
        /// The file's size.
        size: u64,
    },
    /// The input stream failed (client disconnect, timeout, cancelled by a policy check).
    #[error("upload aborted: {0}")]
    Aborted(String),
    /// A stored object is missing.
    #[error("object {0} is missing from the object store")]
    MissingObject(BlobId),
    /// A stored file failed to decrypt or verify.
    #[error("file {file:?} failed its integrity check: {source}")]
    Integrity {
        /// The file concerned, when known.
        file: Option<FileId>,
        /// What the crypto layer found.
        #[source]
        source: CryptoError,
    },
    /// Any other crypto failure (keys, sealing).
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    /// The object store failed.
    #[error("object store: {0}")]
    ObjectStore(#[from] object_store::Error),
    /// The metadata database is open in another process (e.g. a running server).
    #[error("the metadata database is in use by another process: {0}")]
    Locked(String),
    /// The metadata database failed.
    #[error("metadata database: {0}")]
    Db(#[from] sled::Error),
    /// A stored record could not be decoded.
    #[error("metadata record: {0}")]
    Codec(String),
    /// Invalid configuration or argument.
    #[error("invalid {0}")]
    Invalid(String),
    /// A local file operation failed.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
}

/// Shorthand for results in this crate.
pub type Result<T> = std::result::Result<T, StorageError>;

impl From<sled::transaction::TransactionError<StorageError>> for StorageError {
    fn from(e: sled::transaction::TransactionError<StorageError>) -> Self {
        match e {
            sled::transaction::TransactionError::Abort(inner) => inner,
            sled::transaction::TransactionError::Storage(inner) => StorageError::Db(inner),
        }
    }
}

impl From<tokio::task::JoinError> for StorageError {
    fn from(e: tokio::task::JoinError) -> Self {
        StorageError::Io(std::io::Error::other(e))
    }
}
