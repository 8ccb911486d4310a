//! Sealed short values.

use casevault_crypto::{CaseKey, CryptoError, Sealed};

#[test]
fn round_trip() {
    let key = CaseKey::generate();
    for value in [&b""[..], b"a", b"scan-2024-03-01.pdf", &[0u8; 5000]] {
        let sealed = key.seal(b"file-name\x00f1", value);
        assert_eq!(sealed.0.len(), 1 + 12 + value.len() + 16);
        assert_eq!(sealed.0[0], 1);
        assert_eq!(&**key.open(b"file-name\x00f1", &sealed).unwrap(), value);
    }
    let sealed = key.seal_str(b"note", "Patient reports ✓");
    assert_eq!(
        &**key.open_string(b"note", &sealed).unwrap(),
        "Patient reports ✓"
    );
    let bytes = key.seal(b"note", &[0xff, 0xfe]);
    assert!(matches!(
        key.open_string(b"note", &bytes),
        Err(CryptoError::InvalidInput(_))
    ));
    // Fresh nonce every time.
    assert_ne!(key.seal(b"c", b"same"), key.seal(b"c", b"same"));
}

#[test]
fn wrong_context_fails() {
    let key = CaseKey::generate();
    let sealed = key.seal(b"file-name\x00f1", b"report.pdf");
    for ctx in [
        &b"file-name\x00f2"[..],
        b"patient-ref\x00f1",
        b"",
        b"file-name\x00f1\x00",
    ] {
        assert!(matches!(
            key.open(ctx, &sealed),
            Err(CryptoError::Integrity { .. })
        ));
    }
}

#[test]
fn wrong_key_fails() {
    let key = CaseKey::generate();
    let sealed = key.seal(b"ctx", b"value");
    assert!(matches!(
        CaseKey::generate().open(b"ctx", &sealed),
        Err(CryptoError::Integrity { .. })
    ));
    let same_id = CaseKey::from_bytes(key.id(), [1; 32]);
    assert!(matches!(
        same_id.open(b"ctx", &sealed),
        Err(CryptoError::Integrity { .. })
    ));
}

#[test]
fn tampering_fails() {
    let key = CaseKey::generate();
    let sealed = key.seal(b"ctx", b"value");
    for i in 1..sealed.0.len() {
        for bit in 0..8 {
            let mut bad = sealed.clone();
            bad.0[i] ^= 1 << bit;
            assert!(matches!(
                key.open(b"ctx", &bad),
                Err(CryptoError::Integrity { .. })
            ));
        }
    }
    let mut v2 = sealed.clone();
    v2.0[0] = 2;
    assert!(matches!(
        key.open(b"ctx", &v2),
        Err(CryptoError::UnsupportedVersion(2))
    ));
    for len in 0..sealed.0.len() {
        let short = Sealed(sealed.0[..len].to_vec());
        assert!(matches!(
            key.open(b"ctx", &short),
            Err(CryptoError::Integrity { .. })
        ));
    }
    let mut longer = sealed.clone();
    longer.0.push(0);
    assert!(matches!(
        key.open(b"ctx", &longer),
        Err(CryptoError::Integrity { .. })
    ));
}
