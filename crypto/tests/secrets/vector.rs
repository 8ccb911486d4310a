//! The sealed-value and wrapped-key test vector published in `FORMAT.md`
//! (`tests/vectors/keys-v1.txt`), and the thread-safety the other crates rely on.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use casevault_crypto::{
    CaseKey, Decryptor, Encryptor, KeyId, Keyring, PasswordHasher, Sealed, WrappedKey,
};

const VECTOR: &str = include_str!("../vectors/keys-v1.txt");

fn field(name: &str) -> Vec<u8> {
    let value = VECTOR
        .lines()
        .find_map(|l| l.strip_prefix(name)?.trim_start().strip_prefix('='))
        .unwrap_or_else(|| panic!("no {name} in the vector"));
    let hex = value.trim().as_bytes();
    hex.chunks(2)
        .map(|p| u8::from_str_radix(std::str::from_utf8(p).unwrap(), 16).unwrap())
        .collect()
}

fn id(name: &str) -> KeyId {
    KeyId(field(name).try_into().unwrap())
}

#[test]
fn published_sealed_value_opens() {
    let key = CaseKey::from_bytes(id("case_key_id"), field("case_key").try_into().unwrap());
    let sealed = Sealed(field("sealed"));
    let value = key.open(&field("sealed_context"), &sealed).unwrap();
    assert_eq!(&**value, b"scan.pdf");
    assert!(key.open(b"file-name\x00f2", &sealed).is_err());
}

#[test]
fn published_wrapped_key_unwraps() {
    let entry = format!(
        "cvk1:{}:{}",
        id("master_key_id"),
        URL_SAFE_NO_PAD.encode(field("master_key"))
    );
    let ring = Keyring::from_env_value(&entry).unwrap();
    let wrapped = WrappedKey {
        kek_id: id("master_key_id"),
        key_id: id("case_key_id"),
        bytes: field("wrapped"),
    };
    let case_key = ring.unwrap_case_key(&wrapped).unwrap();
    assert_eq!(case_key.id(), id("case_key_id"));
    // It is the vector's case key: it opens the vector's sealed value.
    let sealed = Sealed(field("sealed"));
    assert!(case_key.open(&field("sealed_context"), &sealed).is_ok());
}

#[test]
fn shared_types_are_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<CaseKey>();
    check::<Keyring>();
    check::<Encryptor>();
    check::<Decryptor>();
    check::<PasswordHasher>();
}
