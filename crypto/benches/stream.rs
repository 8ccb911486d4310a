//! Throughput of the streaming format: sealing and opening single chunks of several sizes,
//! and a ranged read (open two chunks, trim).
//!
//! `cargo bench -p casevault-crypto --bench stream`; `CHUNK_SIZES=16384,65536` limits the
//! sizes measured.

#![allow(missing_docs, clippy::unwrap_used)]

use std::hint::black_box;

use casevault_crypto::{CaseKey, DEFAULT_CHUNK_SIZE, Decryptor, Encryptor, encrypt_all};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn chunk_sizes() -> Vec<u32> {
    match std::env::var("CHUNK_SIZES") {
        Ok(list) => list
            .split(',')
            .filter_map(|s| s.trim().parse().ok())
            .collect(),
        Err(_) => vec![16 * 1024, DEFAULT_CHUNK_SIZE, 256 * 1024, 1024 * 1024],
    }
}

fn chunks(c: &mut Criterion) {
    let key = CaseKey::generate();
    for cs in chunk_sizes() {
        let plain = vec![0x5au8; cs as usize];
        let mut group = c.benchmark_group("chunk");
        group.throughput(Throughput::Bytes(u64::from(cs)));

        // Each iteration seals exactly one full (non-final) chunk.
        let mut enc = Encryptor::new(&key, cs).unwrap();
        let mut out = Vec::with_capacity(2 * cs as usize + 64);
        enc.update(&plain, &mut out).unwrap();
        group.bench_function(format!("encrypt/{}KiB", cs / 1024), |b| {
            b.iter(|| {
                out.clear();
                enc.update(black_box(&plain), &mut out).unwrap();
                black_box(&out);
            })
        });

        let object = encrypt_all(&key, cs, &vec![0x5au8; 4 * cs as usize]).unwrap();
        let dec = Decryptor::new(&key, &object, object.len() as u64).unwrap();
        let range = dec.layout().sealed_chunk_range(1);
        let sealed = &object[range.start as usize..range.end as usize];
        let mut plain_out = Vec::with_capacity(cs as usize);
        group.bench_function(format!("decrypt/{}KiB", cs / 1024), |b| {
            b.iter(|| {
                plain_out.clear();
                dec.open_chunk_into(1, black_box(sealed), &mut plain_out)
                    .unwrap();
                black_box(&plain_out);
            })
        });
        group.finish();
    }
}

/// A 1000-byte range straddling chunks 1 and 2 of the default chunk size.
fn ranged_read(c: &mut Criterion) {
    let key = CaseKey::generate();
    let cs = DEFAULT_CHUNK_SIZE;
    let object = encrypt_all(&key, cs, &vec![7u8; 4 * cs as usize]).unwrap();
    let dec = Decryptor::new(&key, &object, object.len() as u64).unwrap();
    let start = 2 * u64::from(cs) - 500;
    let mut group = c.benchmark_group("range");
    group.throughput(Throughput::Bytes(1000));
    group.bench_function("2-chunks-1000B", |b| {
        b.iter(|| {
            let plan = dec.layout().plan(black_box(start..start + 1000));
            let mut plain = Vec::with_capacity(2 * cs as usize);
            for index in plan.chunks() {
                let r = dec.layout().sealed_chunk_range(index);
                dec.open_chunk_into(index, &object[r.start as usize..r.end as usize], &mut plain)
                    .unwrap();
            }
            plain.drain(..plan.skip);
            plain.truncate(plan.len as usize);
            black_box(plain)
        })
    });
    group.finish();
}

criterion_group!(benches, chunks, ranged_read);
criterion_main!(benches);
