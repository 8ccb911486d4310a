//! The streaming encryptor, including suspend/resume for resumable uploads.

use std::fmt;

use aws_lc_rs::aead::LessSafeKey;
use zeroize::Zeroizing;

use super::{
    CHUNK_OVERHEAD, HEADER_LEN, Header, MAX_CHUNK_SIZE, MAX_CHUNKS, MIN_CHUNK_SIZE, chunk_aad,
    open_data_key, tail_aad,
};
use crate::aead::{self, KEY_LEN};
use crate::error::{CryptoError, Result};
use crate::hash::sha256;
use crate::keys::{CaseKey, WRAPPED_KEY_LEN};

/// Encrypts one file version as a stream of sealed chunks under a fresh random data key.
///
/// Write [`Encryptor::header_bytes`] first, then everything [`Encryptor::update`] and
/// [`Encryptor::finish`] append. After an error, discard the encryptor.
pub struct Encryptor {
    key: LessSafeKey,
    header: [u8; HEADER_LEN],
    header_hash: [u8; 32],
    chunk_size: u32,
    /// Plaintext not sealed yet: at most one chunk, allocated once so it never moves.
    buf: Zeroizing<Vec<u8>>,
    next_chunk: u64,
    plaintext_len: u64,
    sealed_len: u64,
}

/// The state of a suspended upload: everything needed to resume it with the case key.
/// Contains no plaintext: the buffered tail is sealed with the data key.
#[derive(Clone, serde::Serialize, serde::Deserialize)]
pub struct SuspendedStream {
    /// The stream header, exactly as written at the start of the object.
    pub header: Vec<u8>,
    /// Index of the next chunk to seal (= number of chunks already emitted).
    pub next_chunk: u64,
    /// Plaintext bytes accepted, including the tail.
    pub plaintext_len: u64,
    /// Ciphertext bytes emitted after the header; the object must be truncated to
    /// `HEADER_LEN + sealed_len` before resuming.
    pub sealed_len: u64,
    /// The unsealed remainder (at most one chunk), sealed: nonce ‖ ciphertext ‖ tag.
    pub sealed_tail: Vec<u8>,
}

impl fmt::Debug for SuspendedStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SuspendedStream")
            .field("next_chunk", &self.next_chunk)
            .field("plaintext_len", &self.plaintext_len)
            .field("sealed_len", &self.sealed_len)
            .field("sealed_tail_len", &self.sealed_tail.len())
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for Encryptor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Encryptor")
            .field("chunk_size", &self.chunk_size)
            .field("next_chunk", &self.next_chunk)
            .field("plaintext_len", &self.plaintext_len)
            .field("sealed_len", &self.sealed_len)
            .finish_non_exhaustive()
    }
}

impl Encryptor {
    /// Starts a stream with a fresh random data key, wrapped by `case_key` into the header.
    /// [`CryptoError::InvalidInput`] unless 4 KiB ≤ `chunk_size` ≤ 16 MiB.
    pub fn new(case_key: &CaseKey, chunk_size: u32) -> Result<Encryptor> {
        if !(MIN_CHUNK_SIZE..=MAX_CHUNK_SIZE).contains(&chunk_size) {
            return Err(CryptoError::InvalidInput(
                "chunk size must be 4 KiB to 16 MiB",
            ));
        }
        let mut data_key = Zeroizing::new([0u8; KEY_LEN]);
        aead::fill_random(&mut *data_key);
        let mut stream_id = [0u8; 16];
        aead::fill_random(&mut stream_id);
        let draft = Header::new(chunk_size, case_key.id(), [0; WRAPPED_KEY_LEN], stream_id);
        let mut wrapped = Vec::with_capacity(WRAPPED_KEY_LEN);
        aead::seal_append(
            &case_key.aead_key(),
            &draft.data_key_aad(),
            &*data_key,
            &mut wrapped,
        );
        let wrapped: [u8; WRAPPED_KEY_LEN] = wrapped
            .try_into()
            .map_err(|_| CryptoError::InvalidInput("data key wrap failed"))?;
        let header = Header::new(chunk_size, case_key.id(), wrapped, stream_id).to_bytes();
        Ok(Encryptor::with_state(
            aead::key(&data_key),
            header,
            chunk_size,
        ))
    }

    fn with_state(key: LessSafeKey, header: [u8; HEADER_LEN], chunk_size: u32) -> Encryptor {
        Encryptor {
            key,
            header_hash: sha256(&header),
            header,
            chunk_size,
            buf: Zeroizing::new(Vec::with_capacity(chunk_size as usize)),
            next_chunk: 0,
            plaintext_len: 0,
            sealed_len: 0,
        }
    }

    /// The header; write it before anything else.
    pub fn header_bytes(&self) -> &[u8] {
        &self.header
    }

    /// Accepts more plaintext and appends to `out` every chunk known not to be the last one.
    /// Up to one full chunk stays buffered, since only [`Encryptor::finish`] can tell which
    /// chunk is last.
    pub fn update(&mut self, mut input: &[u8], out: &mut Vec<u8>) -> Result<()> {
        let chunk_size = self.chunk_size as usize;
        while !input.is_empty() {
            if self.buf.len() == chunk_size {
                self.seal(None, false, out)?;
                self.buf.clear();
            }
            // More than a chunk left and nothing buffered: seal straight from the input.
            if self.buf.is_empty() && input.len() > chunk_size {
                let (chunk, rest) = input.split_at(chunk_size);
                self.seal(Some(chunk), false, out)?;
                self.plaintext_len += chunk_size as u64;
                input = rest;
                continue;
            }
            let take = (chunk_size - self.buf.len()).min(input.len());
            let (head, rest) = input.split_at(take);
            let filled = self.buf.len();
            self.buf.resize(filled + take, 0);
            copy(&mut self.buf[filled..], head);
            self.plaintext_len += take as u64;
            input = rest;
        }
        Ok(())
    }

    /// Seals the final chunk (empty only for an empty file; full when the size is an exact
    /// multiple of the chunk size) and appends it to `out`.
    pub fn finish(mut self, out: &mut Vec<u8>) -> Result<()> {
        self.seal(None, true, out)
    }

    /// Seals `chunk` (or the buffer when `None`) as chunk `next_chunk`.
    fn seal(&mut self, chunk: Option<&[u8]>, last: bool, out: &mut Vec<u8>) -> Result<()> {
        // A non-final chunk must leave an index free for the final one.
        let limit = if last { MAX_CHUNKS } else { MAX_CHUNKS - 1 };
        if self.next_chunk >= limit {
            return Err(CryptoError::CounterExhausted);
        }
        let plaintext = chunk.unwrap_or(&self.buf);
        let aad = chunk_aad(&self.header_hash, self.next_chunk, last);
        aead::seal_append(&self.key, &aad, plaintext, out);
        self.sealed_len += (plaintext.len() + CHUNK_OVERHEAD) as u64;
        self.next_chunk += 1;
        Ok(())
    }

    /// Plaintext bytes accepted so far.
    pub fn plaintext_len(&self) -> u64 {
        self.plaintext_len
    }

    /// Ciphertext bytes emitted so far, header excluded.
    pub fn sealed_len(&self) -> u64 {
        self.sealed_len
    }

    /// Suspends the stream (resumable uploads). The buffered tail is sealed with the data
    /// key, never kept in plaintext. Persist the result together with the first
    /// `HEADER_LEN + sealed_len` bytes of the object.
    pub fn suspend(self) -> SuspendedStream {
        let mut sealed_tail = Vec::with_capacity(self.buf.len() + CHUNK_OVERHEAD);
        let aad = tail_aad(&self.header_hash, self.next_chunk);
        aead::seal_append(&self.key, &aad, &self.buf, &mut sealed_tail);
        SuspendedStream {
            header: self.header.to_vec(),
            next_chunk: self.next_chunk,
            plaintext_len: self.plaintext_len,
            sealed_len: self.sealed_len,
            sealed_tail,
        }
    }

    /// Resumes a suspended stream. [`CryptoError::Integrity`] if the state was not produced
    /// by [`Encryptor::suspend`] under this case key or is inconsistent; header errors as in
    /// [`Header::parse`].
    pub fn resume(case_key: &CaseKey, state: &SuspendedStream) -> Result<Encryptor> {
        let header_bytes: [u8; HEADER_LEN] = state
            .header
            .as_slice()
            .try_into()
            .map_err(|_| CryptoError::BadHeader("header has the wrong length"))?;
        let header = Header::parse(&header_bytes)?;
        let data_key = open_data_key(case_key, &header)?;
        let mut enc =
            Encryptor::with_state(aead::key(&data_key), header_bytes, header.chunk_size());
        let chunk_size = u64::from(header.chunk_size());
        if state.next_chunk >= MAX_CHUNKS
            || state.sealed_tail.len() > chunk_size as usize + CHUNK_OVERHEAD
        {
            return Err(CryptoError::integrity());
        }
        let aad = tail_aad(&enc.header_hash, state.next_chunk);
        aead::open_append(&enc.key, &aad, &state.sealed_tail, &mut enc.buf)
            .map_err(|()| CryptoError::integrity())?;
        let tail = enc.buf.len() as u64;
        let consistent = (state.next_chunk == 0 || tail > 0)
            && state.sealed_len == state.next_chunk * (chunk_size + CHUNK_OVERHEAD as u64)
            && state.plaintext_len == state.next_chunk * chunk_size + tail;
        if !consistent {
            return Err(CryptoError::integrity());
        }
        enc.next_chunk = state.next_chunk;
        enc.plaintext_len = state.plaintext_len;
        enc.sealed_len = state.sealed_len;
        Ok(enc)
    }

    /// Total object length (header included) for `plaintext_len` bytes in chunks of
    /// `chunk_size` (saturating; a chunk size of 0 counts as 1).
    pub fn ciphertext_len(plaintext_len: u64, chunk_size: u32) -> u64 {
        let chunks = plaintext_len.div_ceil(u64::from(chunk_size.max(1))).max(1);
        (HEADER_LEN as u64)
            .saturating_add(chunks.saturating_mul(CHUNK_OVERHEAD as u64))
            .saturating_add(plaintext_len)
    }
}

/// Copies `src` into `dst` (same length) in 64-byte blocks, which the compiler turns into
/// vector loads and stores. For a chunk-sized copy this is several times faster than
/// `memcpy` on CPUs where glibc's `rep movsb` path is slow, and it is the only plaintext
/// copy the encryptor makes.
fn copy(dst: &mut [u8], src: &[u8]) {
    const BLOCK: usize = 64;
    let mut dst_blocks = dst.chunks_exact_mut(BLOCK);
    let mut src_blocks = src.chunks_exact(BLOCK);
    for (d, s) in (&mut dst_blocks).zip(&mut src_blocks) {
        let s: &[u8; BLOCK] = s.try_into().unwrap_or(&[0; BLOCK]);
        d.copy_from_slice(s);
    }
    dst_blocks
        .into_remainder()
        .copy_from_slice(src_blocks.remainder());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counter_is_refused_past_two_to_the_32_chunks() {
        let key = CaseKey::generate();
        let mut enc = Encryptor::new(&key, MIN_CHUNK_SIZE).expect("encryptor");
        enc.next_chunk = MAX_CHUNKS - 2;
        let mut out = Vec::new();
        let chunk = vec![0u8; MIN_CHUNK_SIZE as usize];
        // Chunk 2^32 - 2 is sealed once more data arrives; index 2^32 - 1 is kept for the
        // final chunk, so sealing it as a non-final one is refused.
        enc.update(&chunk, &mut out).expect("buffered");
        enc.update(&chunk, &mut out).expect("chunk 2^32 - 2");
        assert!(matches!(
            enc.update(&chunk, &mut out),
            Err(CryptoError::CounterExhausted)
        ));
        let mut enc = Encryptor::new(&key, MIN_CHUNK_SIZE).expect("encryptor");
        enc.next_chunk = MAX_CHUNKS - 1;
        assert!(enc.finish(&mut out).is_ok());
        let mut enc = Encryptor::new(&key, MIN_CHUNK_SIZE).expect("encryptor");
        enc.next_chunk = MAX_CHUNKS;
        assert!(matches!(
            enc.finish(&mut out),
            Err(CryptoError::CounterExhausted)
        ));
    }
}
