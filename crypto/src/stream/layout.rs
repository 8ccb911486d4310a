//! Where each chunk of an encrypted object lies, computed from its length alone, and which
//! chunks a plaintext byte range needs (random access for ranged downloads).

use std::ops::Range;

use super::{CHUNK_OVERHEAD, HEADER_LEN, MAX_CHUNK_SIZE, MAX_CHUNKS, MIN_CHUNK_SIZE};
use crate::error::{CryptoError, Result};

/// The geometry of an encrypted object: its chunk size and total length (header included).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout {
    /// Plaintext bytes per chunk.
    pub chunk_size: u32,
    /// Length of the whole object, header included.
    pub ciphertext_len: u64,
}

/// The chunks a plaintext range touches and how to trim them.
///
/// Every plan is executable as is: read `object_range`, open chunks `first_chunk..=last_chunk`,
/// drop `skip` bytes from the first opened chunk and keep `len` bytes. A range that is empty
/// (or starts at or past the end of the plaintext) still names one chunk, with `len == 0`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RangePlan {
    /// First chunk to open.
    pub first_chunk: u64,
    /// Last chunk to open (inclusive).
    pub last_chunk: u64,
    /// Byte range of the object covering those chunks.
    pub object_range: Range<u64>,
    /// Plaintext bytes to drop from the start of the first opened chunk.
    pub skip: usize,
    /// Plaintext bytes to keep after the skip.
    pub len: u64,
}

impl RangePlan {
    /// The chunk indexes to open, as a half-open range.
    pub fn chunks(&self) -> Range<u64> {
        self.first_chunk..self.last_chunk.saturating_add(1)
    }
}

/// `(chunk_count, plaintext_len)` of a valid geometry, `None` for an impossible one.
fn shape(chunk_size: u32, ciphertext_len: u64) -> Option<(u64, u64)> {
    if !(MIN_CHUNK_SIZE..=MAX_CHUNK_SIZE).contains(&chunk_size) {
        return None;
    }
    let overhead = CHUNK_OVERHEAD as u64;
    let chunk_size = u64::from(chunk_size);
    let body = ciphertext_len.checked_sub(HEADER_LEN as u64)?;
    let sealed = chunk_size + overhead;
    let (full, rem) = (body / sealed, body % sealed);
    let (count, plaintext) = match rem {
        // Only full chunks: the last one is full too.
        0 if full > 0 => (full, full * chunk_size),
        // A final empty chunk exists only for an empty file.
        r if r == overhead && full == 0 => (1, 0),
        r if r > overhead => (full + 1, full * chunk_size + (r - overhead)),
        _ => return None,
    };
    (count <= MAX_CHUNKS).then_some((count, plaintext))
}

impl Layout {
    /// Validates a geometry. [`CryptoError::Integrity`] if no object written by this format
    /// can have this length (shorter than header + one tag, a trailing fragment, an empty
    /// final chunk after full ones, too many chunks); [`CryptoError::InvalidInput`] for a
    /// chunk size out of range.
    pub fn new(chunk_size: u32, ciphertext_len: u64) -> Result<Layout> {
        if !(MIN_CHUNK_SIZE..=MAX_CHUNK_SIZE).contains(&chunk_size) {
            return Err(CryptoError::InvalidInput("chunk size out of range"));
        }
        shape(chunk_size, ciphertext_len).ok_or(CryptoError::integrity())?;
        Ok(Layout {
            chunk_size,
            ciphertext_len,
        })
    }

    /// Number of chunks (at least 1; 0 only for a hand-built invalid layout).
    pub fn chunk_count(&self) -> u64 {
        shape(self.chunk_size, self.ciphertext_len).map_or(0, |s| s.0)
    }

    /// Plaintext length of the object.
    pub fn plaintext_len(&self) -> u64 {
        shape(self.chunk_size, self.ciphertext_len).map_or(0, |s| s.1)
    }

    /// Sealed length of a full chunk.
    fn sealed_chunk_len(&self) -> u64 {
        u64::from(self.chunk_size) + CHUNK_OVERHEAD as u64
    }

    /// Byte range of sealed chunk `index` in the object. An index past the last chunk gives
    /// the empty range at the object's end.
    pub fn sealed_chunk_range(&self, index: u64) -> Range<u64> {
        if index >= self.chunk_count() {
            return self.ciphertext_len..self.ciphertext_len;
        }
        // index < chunk_count, so this lies within ciphertext_len: no overflow.
        let start = HEADER_LEN as u64 + index * self.sealed_chunk_len();
        let end = (start + self.sealed_chunk_len()).min(self.ciphertext_len);
        start..end
    }

    /// Which chunks the plaintext range `plaintext` needs. The range is clamped to the
    /// plaintext; an empty or reversed range gives a plan with `len == 0`.
    pub fn plan(&self, plaintext: Range<u64>) -> RangePlan {
        let total = self.plaintext_len();
        let last_index = self.chunk_count().saturating_sub(1);
        let chunk_size = u64::from(self.chunk_size).max(1);
        let start = plaintext.start.min(total);
        let end = plaintext.end.clamp(start, total);
        let first_chunk = (start / chunk_size).min(last_index);
        let last_chunk = if end > start {
            (end - 1) / chunk_size
        } else {
            first_chunk
        };
        let skip = usize::try_from(start - first_chunk * chunk_size).unwrap_or(usize::MAX);
        let object_range =
            self.sealed_chunk_range(first_chunk).start..self.sealed_chunk_range(last_chunk).end;
        RangePlan {
            first_chunk,
            last_chunk,
            object_range,
            skip,
            len: end - start,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CS: u32 = 4096;
    const SEALED: u64 = CS as u64 + 28;
    const H: u64 = HEADER_LEN as u64;

    #[test]
    fn lengths() {
        let l = |len| Layout::new(CS, len).map(|l| (l.chunk_count(), l.plaintext_len()));
        assert_eq!(l(H + 28).ok(), Some((1, 0)));
        assert_eq!(l(H + 29).ok(), Some((1, 1)));
        assert_eq!(l(H + SEALED).ok(), Some((1, 4096)));
        assert_eq!(l(H + SEALED + 29).ok(), Some((2, 4097)));
        assert_eq!(l(H + 2 * SEALED).ok(), Some((2, 8192)));
        for bad in [
            0,
            H,
            H + 27,
            H + SEALED + 28,
            H + SEALED + 5,
            H + 2 * SEALED + 1,
        ] {
            assert!(
                matches!(l(bad), Err(CryptoError::Integrity { chunk: None })),
                "{bad}"
            );
        }
        assert!(Layout::new(100, H + 28).is_err());
        assert!(Layout::new(CS, H + MAX_CHUNKS * SEALED).is_ok());
        assert!(Layout::new(CS, H + (MAX_CHUNKS + 1) * SEALED).is_err());
        assert!(Layout::new(CS, u64::MAX).is_err());
    }

    #[test]
    fn plans() {
        let layout = Layout::new(CS, H + 2 * SEALED + 128).expect("valid");
        assert_eq!(layout.plaintext_len(), 8192 + 100);
        let p = layout.plan(4000..4200);
        assert_eq!(
            (p.first_chunk, p.last_chunk, p.skip, p.len),
            (0, 1, 4000, 200)
        );
        assert_eq!(p.object_range, H..H + 2 * SEALED);
        let p = layout.plan(8192..u64::MAX);
        assert_eq!((p.first_chunk, p.last_chunk, p.skip, p.len), (2, 2, 0, 100));
        assert_eq!(p.object_range, H + 2 * SEALED..H + 2 * SEALED + 128);
        let p = layout.plan(9000..9999);
        assert_eq!((p.first_chunk, p.last_chunk, p.skip, p.len), (2, 2, 100, 0));
        #[allow(clippy::reversed_empty_ranges)]
        let p = layout.plan(50..10);
        assert_eq!((p.first_chunk, p.last_chunk, p.skip, p.len), (0, 0, 50, 0));
        let bogus = Layout {
            chunk_size: 0,
            ciphertext_len: 5,
        };
        assert_eq!(bogus.plan(0..10).len, 0);
        assert_eq!(bogus.sealed_chunk_range(3), 5..5);
    }
}
