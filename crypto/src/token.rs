//! 256-bit secrets handed to people or programs: share links, sessions, API tokens, setup
//! links. Only their SHA-256 ([`TokenHash`]) is ever stored.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::error::{CryptoError, Result};
use crate::hash::{sha256, to_hex};

/// Length of a token's text form.
pub const TOKEN_STR_LEN: usize = 43;

/// A 256-bit secret from the operating system's RNG. Zeroized on drop; `Debug` is redacted.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct Token([u8; 32]);

impl Token {
    /// A fresh random token.
    pub fn generate() -> Token {
        let mut token = Token([0; 32]);
        crate::aead::fill_random(&mut token.0);
        token
    }

    /// The text form: base64url without padding, 43 characters.
    pub fn as_str(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.0)
    }

    /// Parses the text form. [`CryptoError::InvalidInput`] unless `s` is exactly 43
    /// base64url characters encoding 32 bytes canonically.
    pub fn parse(s: &str) -> Result<Token> {
        const BAD: CryptoError = CryptoError::InvalidInput("malformed token");
        if s.len() != TOKEN_STR_LEN
            || !s
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        {
            return Err(BAD);
        }
        // Decoded in place; on failure the partial bytes are zeroized when `token` drops.
        let mut token = Token([0; 32]);
        match URL_SAFE_NO_PAD.decode_slice(s, &mut token.0) {
            Ok(32) => Ok(token),
            _ => Err(BAD),
        }
    }

    /// The SHA-256 of the raw 32 bytes: what gets stored.
    pub fn hash(&self) -> TokenHash {
        TokenHash(sha256(&self.0))
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

/// SHA-256 of a token's raw bytes, as stored and looked up.
#[derive(Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct TokenHash(pub [u8; 32]);

impl TokenHash {
    /// Constant-time equality.
    pub fn ct_eq(&self, other: &TokenHash) -> bool {
        self.0.ct_eq(&other.0).into()
    }

    /// Lowercase hex, 64 characters.
    pub fn to_hex(&self) -> String {
        to_hex(&self.0)
    }

    /// Parses 64 hex digits.
    pub fn from_hex(s: &str) -> Result<TokenHash> {
        const BAD: CryptoError = CryptoError::InvalidInput("token hash must be 64 hex digits");
        if s.len() != 64 {
            return Err(BAD);
        }
        let mut out = [0u8; 32];
        let (a, b) = s.split_at(32);
        out[..16].copy_from_slice(&a.parse::<crate::KeyId>().map_err(|_| BAD)?.0);
        out[16..].copy_from_slice(&b.parse::<crate::KeyId>().map_err(|_| BAD)?.0);
        Ok(TokenHash(out))
    }
}

impl fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TokenHash({}…)", to_hex(&self.0[..4]))
    }
}

/// Constant-time equality of two byte strings (`false` when the lengths differ; the length
/// itself is not hidden).
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}
