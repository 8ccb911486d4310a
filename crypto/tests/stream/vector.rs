//! The test vector published in `FORMAT.md` (`tests/vectors/stream-v1.txt`).

use casevault_crypto::{CaseKey, CryptoError, Header, KeyId, decrypt_all, sha256};

const VECTOR: &str = include_str!("../vectors/stream-v1.txt");

fn field(name: &str) -> Vec<u8> {
    let line = VECTOR
        .lines()
        .find_map(|l| l.strip_prefix(name)?.trim_start().strip_prefix('='))
        .unwrap_or_else(|| panic!("no {name} in the vector"));
    let hex = line.trim().as_bytes();
    hex.chunks(2)
        .map(|p| u8::from_str_radix(std::str::from_utf8(p).unwrap(), 16).unwrap())
        .collect()
}

fn case_key() -> CaseKey {
    let id = KeyId(field("case_key_id").try_into().unwrap());
    CaseKey::from_bytes(id, field("case_key").try_into().unwrap())
}

#[test]
fn published_vector_decrypts() {
    let object = field("object");
    let header = Header::parse(&object).unwrap();
    assert_eq!(header.chunk_size(), 4096);
    assert_eq!(
        header.case_key_id().to_string(),
        "000102030405060708090a0b0c0d0e0f"
    );
    assert_eq!(
        sha256(&object[..casevault_crypto::HEADER_LEN]).to_vec(),
        field("header_sha256")
    );
    let plain = decrypt_all(&case_key(), &object).unwrap();
    let want: Vec<u8> = (0..4100u32).map(|i| (i % 251) as u8).collect();
    assert_eq!(plain, want);
}

#[test]
fn published_vector_rejects_a_flipped_tag_bit() {
    let mut object = field("object");
    let last = object.len() - 1;
    object[last] ^= 0x80;
    assert!(matches!(
        decrypt_all(&case_key(), &object),
        Err(CryptoError::Integrity { chunk: Some(1) })
    ));
}
