//! Rules for file and folder names, and their keyed tags for the uniqueness index.
//!
//! Names reach sled only sealed; the uniqueness index uses a keyed tag of the lower-cased
//! name so that `Scan.STL` and `scan.stl` cannot both exist in one folder (they would clash
//! in a zip download and on the practitioners' desktops).

use casevault_crypto::CaseKey;

use crate::error::{Result, StorageError};

/// Longest name accepted, in bytes (the common filesystem limit).
pub const MAX_NAME_BYTES: usize = 255;

/// Checks a file or folder name: non-empty, at most 255 bytes, no path separators, no NUL or
/// control characters, not `.` or `..`, no leading or trailing white space.
pub fn validate_name(name: &str) -> Result<()> {
    let problem = if name.is_empty() {
        Some("is empty")
    } else if name.len() > MAX_NAME_BYTES {
        Some("is longer than 255 bytes")
    } else if name == "." || name == ".." {
        Some("is a relative path component")
    } else if name.contains(['/', '\\']) {
        Some("contains a path separator")
    } else if name.chars().any(char::is_control) {
        Some("contains a control character")
    } else if name.trim() != name {
        Some("starts or ends with white space")
    } else {
        None
    };
    match problem {
        Some(problem) => Err(StorageError::Invalid(format!("name: the name {problem}"))),
        None => Ok(()),
    }
}

/// The uniqueness tag of a name within a case.
pub fn name_tag(case_key: &CaseKey, name: &str) -> [u8; 32] {
    case_key.tag(b"casevault/v1/name", name.to_lowercase().as_bytes())
}

/// Sealing context of a file name.
pub fn file_name_context(file: crate::ids::FileId) -> Vec<u8> {
    [b"file-name:".as_slice(), file.as_bytes()].concat()
}

/// Sealing context of a folder name.
pub fn folder_name_context(folder: crate::ids::FolderId) -> Vec<u8> {
    [b"folder-name:".as_slice(), folder.as_bytes()].concat()
}

/// Sealing context of a file's plaintext SHA-256.
pub fn file_sha256_context(file: crate::ids::FileId) -> Vec<u8> {
    [b"file-sha256:".as_slice(), file.as_bytes()].concat()
}

/// Sealing context of who uploaded a file through a grant (see [`crate::Uploader`]).
pub fn file_uploader_context(file: crate::ids::FileId) -> Vec<u8> {
    [b"file-uploader:".as_slice(), file.as_bytes()].concat()
}

/// Sealing context of a grant's recipient and note (see [`crate::GrantRecipient`]).
pub fn grant_recipient_context(grant: crate::ids::GrantId) -> Vec<u8> {
    [b"grant-recipient:".as_slice(), grant.as_bytes()].concat()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_names() {
        for name in [
            "scan.stl",
            "Röntgen 2024-01-02.dcm",
            "IMG_0001.JPG",
            "a",
            &"é".repeat(127),
        ] {
            assert!(validate_name(name).is_ok(), "{name:?}");
        }
    }

    #[test]
    fn refuses_dangerous_names() {
        for name in [
            "",
            ".",
            "..",
            "../etc/passwd",
            "a/b",
            "a\\b",
            "nul\0byte",
            "line\nbreak",
            " lead",
            "trail ",
            &"x".repeat(256),
        ] {
            assert!(
                matches!(validate_name(name), Err(StorageError::Invalid(_))),
                "{name:?}"
            );
        }
    }
}
