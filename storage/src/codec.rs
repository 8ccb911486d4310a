//! Versioned encoding of sled values: one version byte, then postcard.
//!
//! The version byte lets a later release read old records and migrate them; a record with
//! an unknown version is reported, never guessed at.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{Result, StorageError};

/// The encoding version written by this release.
pub const VALUE_VERSION: u8 = 1;

/// Encodes a value with the current version byte.
pub fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>> {
    let mut out = vec![VALUE_VERSION];
    postcard::to_io(value, &mut out).map_err(|e| StorageError::Codec(e.to_string()))?;
    Ok(out)
}

/// Decodes a value written by [`encode`].
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    match bytes.split_first() {
        Some((&VALUE_VERSION, rest)) => {
            postcard::from_bytes(rest).map_err(|e| StorageError::Codec(e.to_string()))
        }
        Some((version, _)) => Err(StorageError::Codec(format!(
            "unknown record version {version}"
        ))),
        None => Err(StorageError::Codec("empty record".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_version_check() {
        let bytes = encode(&("hello", 42u64)).expect("encode");
        assert_eq!(bytes[0], VALUE_VERSION);
        let back: (String, u64) = decode(&bytes).expect("decode");
        assert_eq!(back, ("hello".to_string(), 42));

        let mut future = bytes.clone();
        future[0] = 9;
        assert!(decode::<(String, u64)>(&future).is_err());
        assert!(decode::<(String, u64)>(&[]).is_err());
    }
}
