//! Newtype identifiers: 128 random bits each, shown as 32 lowercase hex digits.
//!
//! Ids are opaque and never derived from names or patient data, so they may appear in URLs,
//! logs and object keys.

use std::fmt;
use std::str::FromStr;

use rand::RngExt;
use serde::{Deserialize, Serialize};

/// An id string that is not 32 hex digits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a valid id")]
pub struct InvalidId;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub struct $name(pub [u8; 16]);

        impl $name {
            /// A fresh random id from the OS random number generator.
            pub fn random() -> Self {
                Self(rand::rng().random())
            }

            /// The raw bytes, used as (part of) sled keys.
            pub fn as_bytes(&self) -> &[u8; 16] {
                &self.0
            }

            /// Rebuilds an id from a sled key slice.
            pub fn from_slice(bytes: &[u8]) -> Result<Self, InvalidId> {
                bytes.try_into().map(Self).map_err(|_| InvalidId)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                for byte in self.0 {
                    write!(f, "{byte:02x}")?;
                }
                Ok(())
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({self})", stringify!($name))
            }
        }

        impl FromStr for $name {
            type Err = InvalidId;

            fn from_str(s: &str) -> Result<Self, InvalidId> {
                parse_hex(s).map(Self)
            }
        }
    };
}

fn parse_hex(s: &str) -> Result<[u8; 16], InvalidId> {
    let digits = s.as_bytes();
    if digits.len() != 32 {
        return Err(InvalidId);
    }
    let mut out = [0u8; 16];
    for (byte, pair) in out.iter_mut().zip(digits.chunks_exact(2)) {
        let hi = hex_value(pair[0])?;
        let lo = hex_value(pair[1])?;
        *byte = (hi << 4) | lo;
    }
    Ok(out)
}

fn hex_value(digit: u8) -> Result<u8, InvalidId> {
    match digit {
        b'0'..=b'9' => Ok(digit - b'0'),
        b'a'..=b'f' => Ok(digit - b'a' + 10),
        _ => Err(InvalidId),
    }
}

id_type!(
    /// A user account.
    UserId
);
id_type!(
    /// An organisation (a clinic).
    OrgId
);
id_type!(
    /// An invitation to join an organisation.
    InvitationId
);
id_type!(
    /// A case folder (one patient).
    CaseId
);
id_type!(
    /// A folder inside a case.
    FolderId
);
id_type!(
    /// A stored file (one version).
    FileId
);
id_type!(
    /// A share grant.
    GrantId
);
id_type!(
    /// An encrypted object in the object store; its key is derived from this id alone.
    BlobId
);
id_type!(
    /// An upload in progress (its reservation and multipart state).
    UploadId
);
id_type!(
    /// A message in the outgoing mail queue.
    MailId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_and_parse_round_trip() {
        let id = CaseId::random();
        let text = id.to_string();
        assert_eq!(text.len(), 32);
        assert_eq!(text.parse::<CaseId>(), Ok(id));
    }

    #[test]
    fn rejects_malformed_ids() {
        for bad in [
            "",
            "abc",
            "../../etc/passwd",
            &"G".repeat(32),
            &"A".repeat(32),
            &"0".repeat(33),
        ] {
            assert_eq!(bad.parse::<FileId>(), Err(InvalidId), "{bad:?}");
        }
    }

    #[test]
    fn random_ids_differ() {
        assert_ne!(UserId::random(), UserId::random());
    }
}
