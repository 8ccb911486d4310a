//! Property tests: ranged reads through `Layout::plan`, and suspend/resume at random points.

use casevault_crypto::{CaseKey, Decryptor, Encryptor, HEADER_LEN, decrypt_all, encrypt_all};
use proptest::prelude::*;

const CS: u32 = 4096;

fn read_range(key: &CaseKey, object: &[u8], range: std::ops::Range<u64>) -> Vec<u8> {
    let dec = Decryptor::new(key, object, object.len() as u64).unwrap();
    let layout = dec.layout();
    let plan = layout.plan(range);
    let fetched = &object[plan.object_range.start as usize..plan.object_range.end as usize];
    let mut plain = Vec::new();
    for index in plan.chunks() {
        let r = layout.sealed_chunk_range(index);
        let at = (r.start - plan.object_range.start) as usize;
        let sealed = &fetched[at..at + (r.end - r.start) as usize];
        plain.extend(dec.open_chunk(index, sealed).unwrap());
    }
    plain.drain(..plan.skip);
    plain.truncate(plan.len as usize);
    plain
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn planned_chunks_give_the_exact_slice(
        len in 0usize..5 * CS as usize,
        a in 0u64..6 * CS as u64,
        b in 0u64..6 * CS as u64,
    ) {
        let key = CaseKey::generate();
        let plain = crate::data(len, len as u64);
        let object = encrypt_all(&key, CS, &plain).unwrap();
        let (start, end) = (a.min(b), a.max(b));
        let want_start = (start as usize).min(len);
        let want_end = (end as usize).min(len).max(want_start);
        prop_assert_eq!(read_range(&key, &object, start..end), &plain[want_start..want_end]);
    }

    #[test]
    fn suspend_and_resume_anywhere(
        len in 0usize..5 * CS as usize,
        cuts in proptest::collection::vec(0usize..5 * CS as usize, 1..4),
        suspend_at in 0usize..4,
    ) {
        let key = CaseKey::generate();
        let plain = crate::data(len, 99);
        let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(len)).collect();
        cuts.push(len);
        cuts.sort_unstable();
        let mut enc = Encryptor::new(&key, CS).unwrap();
        let mut object = enc.header_bytes().to_vec();
        let mut fed = 0;
        for (i, cut) in cuts.into_iter().enumerate() {
            enc.update(&plain[fed..cut], &mut object).unwrap();
            fed = cut;
            if i == suspend_at {
                let state = enc.suspend();
                prop_assert_eq!(state.sealed_len as usize, object.len() - HEADER_LEN);
                prop_assert_eq!(state.plaintext_len as usize, fed);
                enc = Encryptor::resume(&key, &state).unwrap();
            }
        }
        enc.finish(&mut object).unwrap();
        prop_assert_eq!(decrypt_all(&key, &object).unwrap(), plain);
    }
}
