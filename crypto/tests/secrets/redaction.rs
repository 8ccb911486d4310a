//! `Debug` output never contains key bytes, token text or ciphertext.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use casevault_crypto::{CaseKey, Encryptor, KeyId, Keyring, Token};

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[track_caller]
fn assert_hidden(debug: &str, secret: &[u8]) {
    for form in [
        hex(secret),
        hex(secret).to_uppercase(),
        URL_SAFE_NO_PAD.encode(secret),
        STANDARD.encode(secret),
    ] {
        assert!(!debug.contains(&form), "{debug} reveals {form}");
    }
    // Nor as a list of numbers ([171, 205, ...]).
    let list = format!("{:?}", &secret[..4]);
    assert!(!debug.contains(list.trim_end_matches(']')), "{debug}");
}

const SECRET: [u8; 32] = [
    0xab, 0xcd, 0xef, 0x01, 0x23, 0x45, 0x67, 0x89, 0x9a, 0xbc, 0xde, 0xf0, 0x11, 0x22, 0x33, 0x44,
    0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff, 0x10, 0x20, 0x30, 0x40, 0x50,
];

#[test]
fn case_key() {
    let id = KeyId([7; 16]);
    let key = CaseKey::from_bytes(id, SECRET);
    let debug = format!("{key:?}");
    assert!(debug.contains(&id.to_string()));
    assert_hidden(&debug, &SECRET);
    assert_hidden(&format!("{key:#?}"), &SECRET);
}

#[test]
fn master_key_and_keyring() {
    let text = format!("cvk1:{}:{}", KeyId([9; 16]), URL_SAFE_NO_PAD.encode(SECRET));
    let ring = Keyring::from_env_value(&text).unwrap();
    assert_hidden(&format!("{:?}", ring.current()), &SECRET);
    assert_hidden(&format!("{ring:?}"), &SECRET);
    assert!(format!("{:?}", ring.current()).contains(&KeyId([9; 16]).to_string()));
}

#[test]
fn token() {
    let text = URL_SAFE_NO_PAD.encode(SECRET);
    let token = Token::parse(&text).unwrap();
    let debug = format!("{token:?}");
    assert_hidden(&debug, &SECRET);
    assert!(!debug.contains(&text[..10]));
}

#[test]
fn sealed_and_suspended_stream() {
    let key = CaseKey::from_bytes(KeyId([1; 16]), SECRET);
    let sealed = key.seal(b"ctx", b"Jane Doe, born 1970-01-01");
    let debug = format!("{sealed:?}");
    assert_eq!(debug, format!("Sealed({} bytes)", sealed.0.len()));
    assert_hidden(&debug, &sealed.0[1..]);

    let mut enc = Encryptor::new(&key, 4096).unwrap();
    enc.update(b"tail that stays buffered", &mut Vec::new())
        .unwrap();
    let state = enc.suspend();
    let debug = format!("{state:?}");
    assert_hidden(&debug, &state.sealed_tail);
    assert_hidden(&debug, &state.header[29..89]);
    assert_hidden(&debug, &SECRET);
}
