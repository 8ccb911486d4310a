//! The master keyring: file safety, rotation, retirement, wrapping.

use std::fs;
use std::os::unix::fs::PermissionsExt;

use casevault_crypto::{
    CaseKey, CryptoError, KeyId, Keyring, WrappedKey, decrypt_all, encrypt_all,
};

fn mode(path: &std::path::Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn created_with_mode_0600_and_loaded_again() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("master.key");
    let ring = Keyring::load_or_create(&path).unwrap();
    assert_eq!(mode(&path), 0o600);
    let again = Keyring::load_or_create(&path).unwrap();
    assert_eq!(again.key_ids(), ring.key_ids());
    let case_key = CaseKey::generate();
    let wrapped = ring.wrap_case_key(&case_key);
    assert_eq!(again.unwrap_case_key(&wrapped).unwrap().id(), case_key.id());
}

#[test]
fn group_or_world_readable_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("master.key");
    Keyring::load_or_create(&path).unwrap();
    for bad in [0o644, 0o640, 0o604, 0o660] {
        fs::set_permissions(&path, fs::Permissions::from_mode(bad)).unwrap();
        let err = Keyring::load_or_create(&path).unwrap_err();
        assert!(
            matches!(err, CryptoError::KeyFile { ref path, .. } if path.ends_with("master.key"))
        );
    }
    fs::set_permissions(&path, fs::Permissions::from_mode(0o400)).unwrap();
    assert!(Keyring::load_or_create(&path).is_ok());
}

#[test]
fn malformed_files_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("master.key");
    let good = Keyring::generate().to_text();
    let good_entry = good
        .lines()
        .find(|l| l.starts_with("cvk1:"))
        .unwrap()
        .to_string();
    let cases = [
        String::new(),
        "# only a comment\n".to_string(),
        "cvk1:nothex:AAAA\n".to_string(),
        "cvk2:000102030405060708090a0b0c0d0e0f:AAAA\n".to_string(),
        good_entry[..good_entry.len() - 2].to_string(),
        format!("{good_entry}\n{good_entry}\n"),
        format!("{good_entry}x"),
    ];
    for text in cases {
        fs::write(&path, &text).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        assert!(
            matches!(
                Keyring::load_or_create(&path),
                Err(CryptoError::KeyFile { .. })
            ),
            "{text:?}"
        );
        assert!(Keyring::from_env_value(&text).is_err());
    }
    let dir_path = dir.path().join("a-directory");
    fs::create_dir(&dir_path).unwrap();
    fs::set_permissions(&dir_path, fs::Permissions::from_mode(0o700)).unwrap();
    assert!(matches!(
        Keyring::load_or_create(&dir_path),
        Err(CryptoError::KeyFile { .. })
    ));
}

#[test]
fn env_value_uses_the_file_format() {
    let mut ring = Keyring::generate();
    ring.rotate();
    let text = ring.to_text();
    let from_env = Keyring::from_env_value(&text).unwrap();
    assert_eq!(from_env.key_ids(), ring.key_ids());
    // Single line, whitespace-separated, as an environment variable would hold it.
    let one_line: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
    let from_line = Keyring::from_env_value(&one_line.join(" ")).unwrap();
    assert_eq!(from_line.key_ids(), ring.key_ids());
    assert!(matches!(
        Keyring::from_env_value("junk"),
        Err(CryptoError::KeyFile { .. })
    ));
}

#[test]
fn rotation_retirement_and_rewrap() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("master.key");
    let mut ring = Keyring::load_or_create(&path).unwrap();
    let old_id = ring.current().id();
    let case_key = CaseKey::generate();
    let object = encrypt_all(&case_key, 4096, b"x-ray report").unwrap();
    let old_wrapped = ring.wrap_case_key(&case_key);
    assert_eq!(old_wrapped.kek_id, old_id);

    let new_id = ring.rotate();
    assert_ne!(new_id, old_id);
    assert_eq!(ring.current().id(), new_id);
    assert_eq!(ring.key_ids(), vec![new_id, old_id]);
    ring.save(&path).unwrap();
    assert_eq!(mode(&path), 0o600);
    let leftovers: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(leftovers.len(), 1, "no temporary file left behind");

    // Old wraps still open; new wraps use the new key; re-wrapping moves them over.
    let ring = Keyring::load_or_create(&path).unwrap();
    assert_eq!(ring.key_ids(), vec![new_id, old_id]);
    assert_eq!(
        ring.unwrap_case_key(&old_wrapped).unwrap().id(),
        case_key.id()
    );
    assert_eq!(ring.wrap_case_key(&case_key).kek_id, new_id);
    let rewrapped = ring.rewrap_case_key(&old_wrapped).unwrap();
    assert_eq!(rewrapped.kek_id, new_id);
    assert_eq!(ring.rewrap_case_key(&rewrapped).unwrap(), rewrapped);

    let mut ring = ring;
    ring.retire(old_id);
    ring.retire(new_id); // the current key cannot be retired
    assert_eq!(ring.key_ids(), vec![new_id]);
    assert!(
        matches!(ring.unwrap_case_key(&old_wrapped), Err(CryptoError::UnknownKey(id)) if id == old_id)
    );
    let recovered = ring.unwrap_case_key(&rewrapped).unwrap();
    assert_eq!(decrypt_all(&recovered, &object).unwrap(), b"x-ray report");
    ring.save(&path).unwrap();
    assert_eq!(
        Keyring::load_or_create(&path).unwrap().key_ids(),
        vec![new_id]
    );
}

#[test]
fn wrapped_keys_cannot_be_tampered_or_relabelled() {
    let mut ring = Keyring::generate();
    let first = ring.current().id();
    let a = CaseKey::generate();
    let wrapped = ring.wrap_case_key(&a);
    assert_eq!(wrapped.bytes.len(), 60);
    ring.rotate();
    let integrity =
        |w: &WrappedKey| matches!(ring.unwrap_case_key(w), Err(CryptoError::Integrity { .. }));
    for i in 0..wrapped.bytes.len() {
        let mut w = wrapped.clone();
        w.bytes[i] ^= 0x01;
        assert!(integrity(&w));
    }
    let mut w = wrapped.clone();
    w.key_id = KeyId::random();
    assert!(integrity(&w));
    let mut w = wrapped.clone();
    w.kek_id = ring.current().id(); // relabelled to another key in the ring
    assert!(integrity(&w));
    let mut w = wrapped.clone();
    w.bytes.pop();
    assert!(integrity(&w));
    let mut w = wrapped.clone();
    w.kek_id = KeyId::random();
    assert!(matches!(
        ring.unwrap_case_key(&w),
        Err(CryptoError::UnknownKey(_))
    ));
    assert_eq!(ring.unwrap_case_key(&wrapped).unwrap().id(), a.id());
    assert_eq!(wrapped.kek_id, first);
}

#[test]
fn without_the_case_key_nothing_decrypts() {
    let ring = Keyring::generate();
    let case_key = CaseKey::generate();
    let wrapped = ring.wrap_case_key(&case_key);
    let object = encrypt_all(&case_key, 4096, b"lab results").unwrap();
    let sealed = case_key.seal(b"note", b"follow-up in two weeks");
    // Deleting the case means deleting its wrapped key: another keyring (or a key made up
    // with the same id) opens neither the object nor the sealed value.
    drop(case_key);
    drop(wrapped);
    let impostor = CaseKey::from_bytes(ring.key_ids()[0], [0; 32]);
    assert!(matches!(
        decrypt_all(&impostor, &object),
        Err(CryptoError::Integrity { .. })
    ));
    assert!(matches!(
        impostor.open(b"note", &sealed),
        Err(CryptoError::Integrity { .. })
    ));
}

#[test]
fn key_id_text_form() {
    let id = KeyId([0xab; 16]);
    assert_eq!(id.to_string(), "ab".repeat(16));
    assert_eq!(format!("{id:?}"), "ab".repeat(16));
    assert_eq!("AB".repeat(16).parse::<KeyId>().unwrap(), id);
    for bad in [
        "",
        "ab",
        &"ab".repeat(17),
        &"zz".repeat(16),
        &"é".repeat(16),
    ] {
        assert!(bad.parse::<KeyId>().is_err(), "{bad}");
    }
    assert_ne!(KeyId::random(), KeyId::random());
}
