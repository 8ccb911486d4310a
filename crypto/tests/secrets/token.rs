//! Tokens and token hashes.

use casevault_crypto::token::ct_eq;
use casevault_crypto::{CryptoError, Token, TokenHash, sha256};

#[test]
fn text_form_and_parse() {
    let token = Token::generate();
    let s = token.as_str();
    assert_eq!(s.len(), 43);
    assert!(
        s.bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
    );
    let parsed = Token::parse(&s).unwrap();
    assert_eq!(parsed.as_str(), s);
    assert_eq!(parsed.hash(), token.hash());
    assert_ne!(Token::generate().as_str(), s);
}

#[test]
fn bad_tokens_are_rejected() {
    let good = Token::generate().as_str();
    let mut cases = vec![
        String::new(),
        good[..42].to_string(),
        format!("{good}A"),
        format!("{}=", &good[..42]),
        format!("{}+", &good[..42]),
        format!("{}/", &good[..42]),
        format!("{} ", &good[..42]),
        format!("{}é", &good[..41]),
        "A".repeat(44),
    ];
    // 43 characters carry 258 bits: a last character with the low bits set is not canonical.
    cases.push(format!("{}B", &"A".repeat(42)));
    for bad in cases {
        assert!(
            matches!(Token::parse(&bad), Err(CryptoError::InvalidInput(_))),
            "{bad:?}"
        );
    }
    assert!(Token::parse(&format!("{}A", "A".repeat(42))).is_ok());
}

#[test]
fn hash_is_sha256_of_raw_bytes_and_stable() {
    let token = Token::parse(&format!("{}A", "A".repeat(42))).unwrap();
    assert_eq!(token.hash(), TokenHash(sha256(&[0u8; 32])));
    assert_eq!(
        token.hash().to_hex(),
        "66687aadf862bd776c8fc18b8e9f8e20089714856ee233b3902a591d0d5f2925"
    );
    assert_eq!(
        TokenHash::from_hex(&token.hash().to_hex()).unwrap(),
        token.hash()
    );
    assert!(TokenHash::from_hex("00").is_err());
    assert!(token.hash().ct_eq(&token.hash()));
    assert!(!token.hash().ct_eq(&Token::generate().hash()));
    let dbg = format!("{:?}", token.hash());
    assert!(
        dbg.starts_with("TokenHash(66687aad") && dbg.len() < 30,
        "{dbg}"
    );
}

#[test]
fn constant_time_equality() {
    assert!(ct_eq(b"abc", b"abc"));
    assert!(!ct_eq(b"abc", b"abd"));
    assert!(!ct_eq(b"abc", b"ab"));
    assert!(ct_eq(b"", b""));
}
