//! The tamper suite: every mutation of an object must fail verification, never panic.

use casevault_crypto::{
    CHUNK_OVERHEAD, CaseKey, CryptoError, Decryptor, Encryptor, HEADER_LEN, KeyId, Layout,
    decrypt_all, encrypt_all,
};

use crate::data;

const CS: u32 = 4096;
const SEALED: usize = CS as usize + CHUNK_OVERHEAD;

/// An object of four chunks (the last one partial) and one of exactly three full chunks.
fn objects(key: &CaseKey) -> [Vec<u8>; 2] {
    [
        encrypt_all(key, CS, &data(3 * CS as usize + 100, 1)).unwrap(),
        encrypt_all(key, CS, &data(3 * CS as usize, 2)).unwrap(),
    ]
}

fn chunk(object: &[u8], i: usize) -> &[u8] {
    let start = HEADER_LEN + i * SEALED;
    &object[start..(start + SEALED).min(object.len())]
}

fn chunks(object: &[u8]) -> Vec<Vec<u8>> {
    let n = Layout::new(CS, object.len() as u64).unwrap().chunk_count() as usize;
    (0..n).map(|i| chunk(object, i).to_vec()).collect()
}

fn assemble(object: &[u8], chunks: &[Vec<u8>]) -> Vec<u8> {
    let mut out = object[..HEADER_LEN].to_vec();
    chunks.iter().for_each(|c| out.extend(c));
    out
}

#[track_caller]
fn assert_integrity(result: Result<Vec<u8>, CryptoError>) {
    match result {
        Err(CryptoError::Integrity { .. }) => {}
        other => panic!(
            "expected an integrity error, got {:?}",
            other.map(|v| v.len())
        ),
    }
}

#[test]
fn reordered_chunks_fail() {
    let key = CaseKey::generate();
    for object in objects(&key) {
        let mut c = chunks(&object);
        c.swap(0, 1);
        assert_integrity(decrypt_all(&key, &assemble(&object, &c)));
        // The partial last chunk cannot move either (swap the last two full ones otherwise).
        let mut c = chunks(&object);
        let n = c.len();
        c.swap(n - 2, n - 1);
        assert_integrity(decrypt_all(&key, &assemble(&object, &c)));
    }
}

#[test]
fn dropped_chunk_fails() {
    let key = CaseKey::generate();
    for object in objects(&key) {
        for i in 0..chunks(&object).len() {
            let mut c = chunks(&object);
            c.remove(i);
            assert_integrity(decrypt_all(&key, &assemble(&object, &c)));
        }
    }
}

#[test]
fn duplicated_chunk_fails() {
    let key = CaseKey::generate();
    for object in objects(&key) {
        let mut c = chunks(&object);
        c.insert(1, c[0].clone());
        assert_integrity(decrypt_all(&key, &assemble(&object, &c)));
    }
}

#[test]
fn truncation_fails_at_every_length() {
    let key = CaseKey::generate();
    for object in objects(&key) {
        for len in 0..object.len() {
            match decrypt_all(&key, &object[..len]) {
                Err(CryptoError::BadHeader(_)) if len < HEADER_LEN => {}
                Err(CryptoError::Integrity { .. }) if len >= HEADER_LEN => {}
                other => panic!("truncation to {len}: {:?}", other.map(|v| v.len())),
            }
        }
    }
}

#[test]
fn exact_multiple_without_final_chunk_fails() {
    let key = CaseKey::generate();
    let [_, object] = objects(&key);
    let shorter = &object[..object.len() - SEALED];
    // The length alone is plausible (two full chunks)...
    assert!(Layout::new(CS, shorter.len() as u64).is_ok());
    // ...but chunk 1 was not sealed as the last one.
    assert!(matches!(
        decrypt_all(&key, shorter),
        Err(CryptoError::Integrity { chunk: Some(1) })
    ));
}

#[test]
fn appended_bytes_or_chunks_fail() {
    let key = CaseKey::generate();
    for object in objects(&key) {
        let last = chunks(&object).last().unwrap().clone();
        let first = chunk(&object, 0).to_vec();
        for extra in [
            vec![0u8],
            vec![0u8; CHUNK_OVERHEAD],
            vec![7u8; 100],
            first,
            last,
        ] {
            let mut longer = object.clone();
            longer.extend(&extra);
            assert_integrity(decrypt_all(&key, &longer));
        }
    }
}

#[test]
fn spliced_chunk_from_another_file_fails() {
    let key = CaseKey::generate();
    let plain = data(3 * CS as usize, 5);
    // Same key, same plaintext, same length: only the data key and header differ.
    let a = encrypt_all(&key, CS, &plain).unwrap();
    let b = encrypt_all(&key, CS, &plain).unwrap();
    for i in 0..3 {
        let mut c = chunks(&a);
        c[i] = chunk(&b, i).to_vec();
        assert_integrity(decrypt_all(&key, &assemble(&a, &c)));
    }
    // B's header in front of A's chunks.
    let mut mixed = b[..HEADER_LEN].to_vec();
    mixed.extend(&a[HEADER_LEN..]);
    assert_integrity(decrypt_all(&key, &mixed));
}

#[test]
fn every_bit_flip_fails() {
    let key = CaseKey::generate();
    let object = encrypt_all(&key, CS, &data(CS as usize + 50, 9)).unwrap();
    for byte in 0..object.len() {
        for bit in 0..8 {
            let mut bad = object.clone();
            bad[byte] ^= 1 << bit;
            match decrypt_all(&key, &bad) {
                Err(CryptoError::Integrity { chunk: Some(_) }) if byte >= HEADER_LEN => {}
                Err(
                    CryptoError::Integrity { .. }
                    | CryptoError::BadHeader(_)
                    | CryptoError::UnsupportedVersion(_)
                    | CryptoError::UnsupportedAlgorithm(_),
                ) if byte < HEADER_LEN => {}
                other => panic!("flip {byte}.{bit}: {:?}", other.map(|v| v.len())),
            }
        }
    }
}

#[test]
fn wrong_case_key_fails() {
    let key = CaseKey::generate();
    let object = encrypt_all(&key, CS, b"hello").unwrap();
    let other = CaseKey::generate();
    assert!(matches!(
        decrypt_all(&other, &object),
        Err(CryptoError::Integrity { chunk: None })
    ));
    // A key carrying the right id but other bytes fails too.
    let forged = CaseKey::from_bytes(key.id(), [0x42; 32]);
    assert!(matches!(
        decrypt_all(&forged, &object),
        Err(CryptoError::Integrity { chunk: None })
    ));
}

#[test]
fn header_errors() {
    let key = CaseKey::generate();
    let object = encrypt_all(&key, CS, b"hello").unwrap();
    let mut v2 = object.clone();
    v2[7] = 2;
    assert!(matches!(
        decrypt_all(&key, &v2),
        Err(CryptoError::UnsupportedVersion(2))
    ));
    let mut alg = object.clone();
    alg[8] = 9;
    assert!(matches!(
        decrypt_all(&key, &alg),
        Err(CryptoError::UnsupportedAlgorithm(9))
    ));
    let mut magic = object.clone();
    magic[0] = b'X';
    assert!(matches!(
        decrypt_all(&key, &magic),
        Err(CryptoError::BadHeader(_))
    ));
    assert!(matches!(
        decrypt_all(&key, &object[..HEADER_LEN - 1]),
        Err(CryptoError::BadHeader(_))
    ));
    assert!(matches!(
        decrypt_all(&key, &[]),
        Err(CryptoError::BadHeader(_))
    ));
    let mut tiny = object.clone();
    tiny[9..13].copy_from_slice(&16u32.to_be_bytes());
    assert!(matches!(
        decrypt_all(&key, &tiny),
        Err(CryptoError::BadHeader(_))
    ));
}

#[test]
fn open_chunk_rejects_bad_index_length_and_claimed_length() {
    let key = CaseKey::generate();
    let object = encrypt_all(&key, CS, &data(2 * CS as usize + 10, 3)).unwrap();
    let dec = Decryptor::new(&key, &object, object.len() as u64).unwrap();
    let c0 = chunk(&object, 0);
    assert!(dec.open_chunk(0, c0).is_ok());
    for (index, sealed) in [
        (3, c0),
        (u64::MAX, c0),
        (0, &c0[..10]),
        (0, &[][..]),
        (2, c0),
    ] {
        let err = dec.open_chunk(index, sealed).unwrap_err();
        assert!(matches!(err, CryptoError::Integrity { chunk: Some(i) } if i == index));
    }
    // The caller lies about the object length: chunk 1 is then taken as the last one.
    let shorter = (HEADER_LEN + 2 * SEALED) as u64;
    let dec = Decryptor::new(&key, &object, shorter).unwrap();
    assert!(matches!(
        dec.open_chunk(1, chunk(&object, 1)),
        Err(CryptoError::Integrity { chunk: Some(1) })
    ));
    assert!(matches!(
        Decryptor::new(&key, &object, (HEADER_LEN + 2 * SEALED + 27) as u64),
        Err(CryptoError::Integrity { chunk: None })
    ));
}

#[test]
fn resume_rejects_foreign_or_altered_state() {
    let key = CaseKey::generate();
    let mut enc = Encryptor::new(&key, CS).unwrap();
    let mut out = Vec::new();
    enc.update(&data(CS as usize + 10, 4), &mut out).unwrap();
    let state = enc.suspend();
    assert!(Encryptor::resume(&key, &state).is_ok());
    let integrity = |s| {
        matches!(
            Encryptor::resume(&key, &s),
            Err(CryptoError::Integrity { .. })
        )
    };

    assert!(matches!(
        Encryptor::resume(&CaseKey::generate(), &state),
        Err(CryptoError::Integrity { chunk: None })
    ));
    let mut s = state.clone();
    s.sealed_tail[20] ^= 1;
    assert!(integrity(s));
    let mut s = state.clone();
    s.next_chunk += 1;
    assert!(integrity(s));
    let mut s = state.clone();
    s.plaintext_len += 1;
    assert!(integrity(s));
    let mut s = state.clone();
    s.sealed_len -= 1;
    assert!(integrity(s));
    let mut s = state.clone();
    s.header[HEADER_LEN - 1] ^= 1;
    assert!(integrity(s));
    let mut s = state.clone();
    s.sealed_tail.clear();
    assert!(integrity(s));
    let mut s = state;
    s.header.truncate(10);
    assert!(matches!(
        Encryptor::resume(&key, &s),
        Err(CryptoError::BadHeader(_))
    ));
}

#[test]
fn shredded_case_key_leaves_nothing_readable() {
    let key = CaseKey::generate();
    let id: KeyId = key.id();
    let object = encrypt_all(&key, CS, b"patient record").unwrap();
    drop(key);
    // Nothing but the id survives; no other key opens the object.
    for _ in 0..8 {
        let guess = CaseKey::from_bytes(id, rand::random());
        assert_integrity(decrypt_all(&guess, &object));
    }
}

#[test]
fn ciphertext_len_saturates() {
    assert_eq!(Encryptor::ciphertext_len(u64::MAX, CS), u64::MAX);
    assert_eq!(
        Encryptor::ciphertext_len(0, 0),
        (HEADER_LEN + CHUNK_OVERHEAD) as u64
    );
}
