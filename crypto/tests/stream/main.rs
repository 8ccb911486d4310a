//! Tests of the streaming file format: round trips, random access, suspend/resume, the
//! tamper suite and the published test vector.

#![allow(clippy::unwrap_used)]

mod props;
mod roundtrip;
mod tamper;
mod vector;

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

/// Deterministic pseudo-random bytes.
pub fn data(len: usize, seed: u64) -> Vec<u8> {
    let mut out = vec![0u8; len];
    StdRng::seed_from_u64(seed).fill(&mut out[..]);
    out
}
