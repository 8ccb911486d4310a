//! Internal AES-256-GCM helpers over aws-lc-rs: every seal draws a fresh random 96-bit nonce
//! from the operating system and lays the result out as `nonce ‖ ciphertext ‖ tag`.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use rand::TryRng;

/// Length of an AES-256 key.
pub(crate) const KEY_LEN: usize = 32;
/// Length of a GCM nonce.
pub(crate) const NONCE_LEN: usize = 12;
/// Length of a GCM tag.
pub(crate) const TAG_LEN: usize = 16;
/// Bytes a seal adds to its plaintext.
pub(crate) const OVERHEAD: usize = NONCE_LEN + TAG_LEN;

/// Fills `buf` from the operating system's random number generator.
///
/// # Panics
/// Only if the operating system cannot provide randomness, in which case no key or nonce
/// can be made safely and stopping is the only sound choice.
pub(crate) fn fill_random(buf: &mut [u8]) {
    rand::rngs::SysRng
        .try_fill_bytes(buf)
        .expect("the operating system's random number generator failed");
}

/// Builds an AES-256-GCM key.
pub(crate) fn key(bytes: &[u8; KEY_LEN]) -> LessSafeKey {
    // A 32-byte slice is always a valid AES-256 key.
    let unbound = UnboundKey::new(&AES_256_GCM, bytes).expect("AES-256 keys are 32 bytes");
    LessSafeKey::new(unbound)
}

/// Appends `nonce ‖ ciphertext ‖ tag` of `plaintext` under a fresh random nonce to `out`.
///
/// AES-GCM runs out of place, from `plaintext` straight into `out`: the plaintext is never
/// copied (a copy to the unaligned spot after the nonce used to cost more than the cipher).
pub(crate) fn seal_append(key: &LessSafeKey, aad: &[u8], plaintext: &[u8], out: &mut Vec<u8>) {
    let mut nonce = [0u8; NONCE_LEN];
    fill_random(&mut nonce);
    out.reserve(plaintext.len() + OVERHEAD);
    out.extend_from_slice(&nonce);
    let body = out.len();
    // Safe Rust cannot write into spare capacity, so make room with zeros (a cheap memset).
    out.resize(body + plaintext.len() + TAG_LEN, 0);
    let (ciphertext, tag) = out[body..].split_at_mut(plaintext.len());
    // Sealing only fails for inputs above 2^36 bytes; every caller seals at most one chunk.
    key.seal_out_of_place_scatter(
        Nonce::assume_unique_for_key(nonce),
        Aad::from(aad),
        plaintext,
        ciphertext,
        &[],
        tag,
    )
    .expect("AES-GCM sealing of a bounded buffer cannot fail");
}

/// Opens `nonce ‖ ciphertext ‖ tag`, appending the plaintext to `out`. On failure `out` is
/// left as it was and `Err(())` is returned; callers map it to the right integrity error.
pub(crate) fn open_append(
    key: &LessSafeKey,
    aad: &[u8],
    sealed: &[u8],
    out: &mut Vec<u8>,
) -> Result<(), ()> {
    if sealed.len() < OVERHEAD {
        return Err(());
    }
    let (nonce, rest) = sealed.split_at(NONCE_LEN);
    let (ciphertext, tag) = rest.split_at(rest.len() - TAG_LEN);
    let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| ())?;
    let start = out.len();
    out.extend_from_slice(ciphertext);
    let in_out = &mut out[start..];
    match key.open_in_place_separate_tag(nonce, Aad::from(aad), tag, in_out) {
        Ok(_) => Ok(()),
        Err(_) => {
            out.truncate(start);
            Err(())
        }
    }
}
