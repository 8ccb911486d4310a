//! Round trips of many sizes and chunk sizes, piecewise updates, and a streamed 1 GiB file
//! in bounded memory.

use casevault_crypto::{
    CHUNK_OVERHEAD, CaseKey, DEFAULT_CHUNK_SIZE, Decryptor, Encryptor, HEADER_LEN, Layout, Sha256,
    decrypt_all, encrypt_all,
};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

use crate::data;

fn sizes(cs: usize) -> Vec<usize> {
    vec![
        0,
        1,
        cs - 1,
        cs,
        cs + 1,
        2 * cs,
        3 * cs - 1,
        3 * cs + 7,
        5 * cs,
    ]
}

#[test]
fn round_trip_sizes_and_chunk_sizes() {
    let key = CaseKey::generate();
    for cs in [4096u32, 5000, DEFAULT_CHUNK_SIZE] {
        for len in sizes(cs as usize) {
            let plain = data(len, len as u64);
            let object = encrypt_all(&key, cs, &plain).unwrap();
            assert_eq!(
                object.len() as u64,
                Encryptor::ciphertext_len(len as u64, cs)
            );
            let layout = Layout::new(cs, object.len() as u64).unwrap();
            assert_eq!(layout.plaintext_len(), len as u64);
            assert_eq!(
                layout.chunk_count(),
                (len as u64).div_ceil(cs as u64).max(1)
            );
            assert_eq!(
                decrypt_all(&key, &object).unwrap(),
                plain,
                "cs {cs} len {len}"
            );
        }
    }
}

#[test]
fn empty_file_is_header_and_one_empty_chunk() {
    let key = CaseKey::generate();
    let object = encrypt_all(&key, 4096, b"").unwrap();
    assert_eq!(object.len(), HEADER_LEN + CHUNK_OVERHEAD);
    assert!(decrypt_all(&key, &object).unwrap().is_empty());
}

#[test]
fn update_in_random_pieces_matches() {
    let key = CaseKey::generate();
    let mut rng = StdRng::seed_from_u64(7);
    for round in 0..40u64 {
        let cs = if round % 2 == 0 { 4096 } else { 4096 + 123 };
        let len = rng.random_range(0..6 * cs as usize);
        let plain = data(len, round);
        let mut enc = Encryptor::new(&key, cs).unwrap();
        let mut object = enc.header_bytes().to_vec();
        let mut fed = 0;
        while fed < len {
            let piece = rng.random_range(0..=(2 * cs as usize)).min(len - fed);
            let before = object.len();
            enc.update(&plain[fed..fed + piece], &mut object).unwrap();
            // Only whole chunks are emitted, and never more than was fed.
            assert_eq!((object.len() - before) % (cs as usize + CHUNK_OVERHEAD), 0);
            fed += piece;
            assert_eq!(enc.plaintext_len(), fed as u64);
            assert_eq!(enc.sealed_len(), (object.len() - HEADER_LEN) as u64);
        }
        enc.finish(&mut object).unwrap();
        assert_eq!(
            object.len() as u64,
            Encryptor::ciphertext_len(len as u64, cs)
        );
        assert_eq!(decrypt_all(&key, &object).unwrap(), plain);
    }
}

#[test]
fn chunk_size_bounds() {
    let key = CaseKey::generate();
    assert!(Encryptor::new(&key, 4095).is_err());
    assert!(Encryptor::new(&key, 16 * 1024 * 1024 + 1).is_err());
    assert!(Encryptor::new(&key, 4096).is_ok());
    assert!(Encryptor::new(&key, 16 * 1024 * 1024).is_ok());
}

/// 1 GiB generated on the fly, encrypted and decrypted chunk by chunk; memory stays bounded.
#[test]
fn streamed_one_gib_in_bounded_memory() {
    const TOTAL: u64 = 1 << 30;
    const PIECE: usize = 1 << 20;
    let cs = DEFAULT_CHUNK_SIZE;
    let sealed_chunk = cs as usize + CHUNK_OVERHEAD;
    let key = CaseKey::generate();
    let mut enc = Encryptor::new(&key, cs).unwrap();
    let header = enc.header_bytes().to_vec();
    let dec = Decryptor::new(&key, &header, Encryptor::ciphertext_len(TOTAL, cs)).unwrap();
    assert_eq!(dec.plaintext_len(), TOTAL);

    let mut rng = StdRng::seed_from_u64(1);
    let mut piece = vec![0u8; PIECE];
    let mut out = Vec::new();
    let mut plain = Vec::new();
    let (mut hash_in, mut hash_out) = (Sha256::new(), Sha256::new());
    let mut index = 0u64;
    let mut open_all = |out: &mut Vec<u8>, plain: &mut Vec<u8>, hash_out: &mut Sha256| {
        for sealed in out.chunks(sealed_chunk) {
            plain.clear();
            dec.open_chunk_into(index, sealed, plain).unwrap();
            hash_out.update(plain);
            index += 1;
        }
        out.clear();
    };
    for _ in 0..TOTAL / PIECE as u64 {
        rng.fill(&mut piece[..]);
        hash_in.update(&piece);
        // Feed a chunk at a time so the ciphertext buffer holds at most two chunks.
        for part in piece.chunks(cs as usize) {
            enc.update(part, &mut out).unwrap();
            open_all(&mut out, &mut plain, &mut hash_out);
            assert!(
                out.capacity() <= 4 * sealed_chunk,
                "out grew to {}",
                out.capacity()
            );
            assert!(
                plain.capacity() <= 4 * sealed_chunk,
                "plain grew to {}",
                plain.capacity()
            );
        }
    }
    enc.finish(&mut out).unwrap();
    open_all(&mut out, &mut plain, &mut hash_out);
    assert_eq!(index, dec.layout().chunk_count());
    assert_eq!(hash_in.finish(), hash_out.finish());
}

/// A crashed upload resumed twice from the same state re-seals the same chunk index under
/// fresh nonces; both continuations are valid objects.
#[test]
fn resume_twice_from_one_state() {
    let key = CaseKey::generate();
    let cs = 4096;
    let first = data(6000, 1);
    let mut enc = Encryptor::new(&key, cs).unwrap();
    let mut prefix = enc.header_bytes().to_vec();
    enc.update(&first, &mut prefix).unwrap();
    let state = enc.suspend();
    assert_eq!(prefix.len() as u64, HEADER_LEN as u64 + state.sealed_len);
    let mut objects = Vec::new();
    for seed in [2, 3] {
        let more = data(5000, seed);
        let mut enc = Encryptor::resume(&key, &state).unwrap();
        let mut object = prefix.clone();
        enc.update(&more, &mut object).unwrap();
        enc.finish(&mut object).unwrap();
        let mut want = first.clone();
        want.extend(&more);
        assert_eq!(decrypt_all(&key, &object).unwrap(), want);
        objects.push(object);
    }
    // The re-sealed chunk 1 differs (fresh nonce), though the shared prefix is identical.
    let c1 = Layout::new(cs, objects[0].len() as u64)
        .unwrap()
        .sealed_chunk_range(1);
    let r = c1.start as usize..c1.end as usize;
    assert_ne!(objects[0][r.clone()], objects[1][r]);
}
