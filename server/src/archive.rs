//! Streaming ZIP archives: a whole case folder downloaded as one `.zip`, written on the fly
//! from the entries' plaintext streams with memory bounded by a few KiB of headers, and with
//! its exact length known before the first byte (for `Content-Length`).
//!
//! The format is written by hand against PKWARE's APPNOTE.TXT (see `archive/format.rs`), with
//! `crc32fast` for the CRC-32: `async_zip`, the maintained async ZIP crate, writes into an
//! `AsyncWrite` rather than yielding a stream and offers no way to know the archive's length
//! up front, which stored entries of known size make exactly computable.
//!
//! Entries are stored (no compression: photos, videos and scans are compressed already), their
//! CRC-32 and sizes follow the data in data descriptors, names are flagged UTF-8, and ZIP64
//! fields and end records appear exactly where a size, an offset or the entry count needs them.
//!
//! ```no_run
//! # use bytes::Bytes;
//! # use casevault_server::archive::{ZipEntry, make_paths_unique, zip_len, zip_stream};
//! # use casevault_server::error::BoxError;
//! let mut entries = vec![ZipEntry { path: "notes.txt".into(), size: 5, modified: 0 }];
//! make_paths_unique(&mut entries);
//! let length = zip_len(&entries);
//! let body = zip_stream(entries, |_index, _entry| async {
//!     Ok::<_, BoxError>(futures::stream::iter([Ok(Bytes::from_static(b"hello"))]))
//! });
//! # let _ = (length, body);
//! ```

use std::future::Future;
use std::pin::Pin;

use bytes::{Bytes, BytesMut};
use futures::{Stream, StreamExt};

mod format;
mod names;
#[cfg(test)]
mod tests;

pub use names::make_paths_unique;

/// Central directory records are yielded in chunks of about this many bytes.
const CENTRAL_CHUNK: usize = 16 * 1024;

/// One file of an archive, described before any of its bytes are read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZipEntry {
    /// Path inside the archive: relative, `/`-separated, UTF-8, at most 65,535 bytes, with no
    /// `..` segments; unique within the archive (see [`make_paths_unique`]).
    pub path: String,
    /// Exact length of the entry's plaintext in bytes; the opener must yield exactly this many.
    pub size: u64,
    /// Modification time in Unix milliseconds (stored in UTC, to two-second precision in the
    /// DOS fields and to the second in the extended-timestamp field).
    pub modified: i64,
}

/// Why a [`zip_stream`] failed: the archive would be corrupt, so the stream ends with this
/// error instead.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ArchiveError {
    /// An entry's path is longer than the 65,535 bytes a ZIP name can hold.
    #[error("an archive path is {len} bytes long, more than a ZIP name can hold")]
    PathTooLong {
        /// The path's length in bytes.
        len: usize,
    },
    /// An entry's stream yielded more bytes than its declared size.
    #[error("archive entry {path:?} yielded more than its declared {declared} bytes")]
    EntryTooLong {
        /// The entry's path.
        path: String,
        /// The size the entry declared.
        declared: u64,
    },
    /// An entry's stream ended before its declared size.
    #[error("archive entry {path:?} yielded {actual} bytes, not its declared {declared}")]
    EntryTooShort {
        /// The entry's path.
        path: String,
        /// The size the entry declared.
        declared: u64,
        /// The bytes it yielded.
        actual: u64,
    },
}

/// The exact length in bytes of the archive [`zip_stream`] writes for `entries`.
pub fn zip_len(entries: &[ZipEntry]) -> u64 {
    let mut offset = 0u64;
    let mut cd_size = 0u64;
    for entry in entries {
        cd_size = cd_size.saturating_add(format::central_header_len(entry, offset));
        offset = offset.saturating_add(format::entry_len(entry));
    }
    let end = format::end_len(entries.len() as u64, offset, cd_size);
    offset.saturating_add(cd_size).saturating_add(end)
}

/// Writes a ZIP archive of `entries` as a stream of chunks, [`zip_len`] bytes long in all.
///
/// `open(index, entry)` is called lazily, once per entry, in order, when the consumer asks
/// for that entry's data; the previous entry's stream has ended and been dropped by then.
/// Its chunks are passed through as they come (no entry is ever buffered), so memory stays
/// at what the inner streams yield plus a few KiB of headers.
///
/// The stream ends after its first error: an error from `open` or from an entry's stream, or
/// an [`ArchiveError`] when a path is too long (before any byte is written) or when an entry
/// yields more or fewer bytes than its declared [`ZipEntry::size`] (before the offending
/// chunk, or at the entry's end). A consumer that got an error must discard the output.
pub fn zip_stream<F, Fut, S, E>(
    entries: Vec<ZipEntry>,
    open: F,
) -> impl Stream<Item = Result<Bytes, E>> + Send + 'static
where
    F: FnMut(usize, &ZipEntry) -> Fut + Send + 'static,
    Fut: Future<Output = Result<S, E>> + Send + 'static,
    S: Stream<Item = Result<Bytes, E>> + Send + 'static,
    E: From<ArchiveError> + Send + 'static,
{
    let writer = Writer {
        local_offsets: Vec::with_capacity(entries.len()),
        crcs: Vec::with_capacity(entries.len()),
        entries,
        open,
        written: 0,
        cd_offset: 0,
        step: Step::Check,
    };
    futures::stream::unfold(writer, Writer::next_chunk)
}

/// What the writer does when next asked for a chunk.
enum Step<S> {
    /// Check every path before writing anything.
    Check,
    /// Yield the local header of this entry, or start the central directory after the last.
    Header(usize),
    /// Open this entry's stream.
    Open(usize),
    /// Pass an entry's data through, then yield its data descriptor.
    Data {
        index: usize,
        stream: Pin<Box<S>>,
        hasher: crc32fast::Hasher,
        read: u64,
    },
    /// Yield central directory records from this entry on.
    Central(usize),
    /// Yield the end records.
    End,
    /// Nothing more, after the end or an error.
    Done,
}

struct Writer<F, S> {
    entries: Vec<ZipEntry>,
    open: F,
    /// Offset of each written entry's local header.
    local_offsets: Vec<u64>,
    /// CRC-32 of each written entry.
    crcs: Vec<u32>,
    /// Bytes yielded so far.
    written: u64,
    /// Where the central directory starts, once it has.
    cd_offset: u64,
    step: Step<S>,
}

impl<F, Fut, S, E> Writer<F, S>
where
    F: FnMut(usize, &ZipEntry) -> Fut,
    Fut: Future<Output = Result<S, E>>,
    S: Stream<Item = Result<Bytes, E>>,
    E: From<ArchiveError>,
{
    /// The `unfold` step: the next chunk and the writer, or `None` when the archive is done.
    async fn next_chunk(mut self) -> Option<(Result<Bytes, E>, Self)> {
        loop {
            // An early return leaves `Done` behind, so the stream ends after an error.
            match std::mem::replace(&mut self.step, Step::Done) {
                Step::Check => {
                    if let Some(entry) = self
                        .entries
                        .iter()
                        .find(|e| e.path.len() > usize::from(u16::MAX))
                    {
                        let len = entry.path.len();
                        return Some((Err(ArchiveError::PathTooLong { len }.into()), self));
                    }
                    self.step = Step::Header(0);
                }
                Step::Header(index) => {
                    let Some(entry) = self.entries.get(index) else {
                        self.cd_offset = self.written;
                        self.step = Step::Central(0);
                        continue;
                    };
                    let mut buf = BytesMut::with_capacity(format::local_header_len(entry) as usize);
                    format::put_local_header(&mut buf, entry, self.written);
                    self.local_offsets.push(self.written);
                    self.step = Step::Open(index);
                    return Some((Ok(self.emit(buf.freeze())), self));
                }
                Step::Open(index) => {
                    let entry = self.entries.get(index)?;
                    match (self.open)(index, entry).await {
                        Ok(stream) => {
                            self.step = Step::Data {
                                index,
                                stream: Box::pin(stream),
                                hasher: crc32fast::Hasher::new(),
                                read: 0,
                            };
                        }
                        Err(error) => return Some((Err(error), self)),
                    }
                }
                Step::Data {
                    index,
                    mut stream,
                    mut hasher,
                    read,
                } => {
                    let entry = self.entries.get(index)?;
                    match stream.next().await {
                        Some(Ok(chunk)) => {
                            let read = read.saturating_add(chunk.len() as u64);
                            if read > entry.size {
                                let error = ArchiveError::EntryTooLong {
                                    path: entry.path.clone(),
                                    declared: entry.size,
                                };
                                return Some((Err(error.into()), self));
                            }
                            hasher.update(&chunk);
                            self.step = Step::Data {
                                index,
                                stream,
                                hasher,
                                read,
                            };
                            if !chunk.is_empty() {
                                return Some((Ok(self.emit(chunk)), self));
                            }
                        }
                        Some(Err(error)) => return Some((Err(error), self)),
                        None => {
                            drop(stream);
                            if read != entry.size {
                                let error = ArchiveError::EntryTooShort {
                                    path: entry.path.clone(),
                                    declared: entry.size,
                                    actual: read,
                                };
                                return Some((Err(error.into()), self));
                            }
                            let crc = hasher.finalize();
                            let mut buf = BytesMut::with_capacity(
                                format::data_descriptor_len(entry) as usize,
                            );
                            format::put_data_descriptor(&mut buf, entry, crc);
                            self.crcs.push(crc);
                            self.step = Step::Header(index + 1);
                            return Some((Ok(self.emit(buf.freeze())), self));
                        }
                    }
                }
                Step::Central(first) => {
                    let mut buf = BytesMut::new();
                    let mut index = first;
                    while buf.len() < CENTRAL_CHUNK {
                        let (Some(entry), Some(&crc), Some(&offset)) = (
                            self.entries.get(index),
                            self.crcs.get(index),
                            self.local_offsets.get(index),
                        ) else {
                            break;
                        };
                        format::put_central_header(&mut buf, entry, crc, offset);
                        index += 1;
                    }
                    // `index == first` only if a record is missing, which cannot happen: end there.
                    self.step = if index > first && index < self.entries.len() {
                        Step::Central(index)
                    } else {
                        Step::End
                    };
                    if !buf.is_empty() {
                        return Some((Ok(self.emit(buf.freeze())), self));
                    }
                }
                Step::End => {
                    let mut buf = BytesMut::new();
                    let cd_size = self.written.saturating_sub(self.cd_offset);
                    format::put_end(&mut buf, self.entries.len() as u64, self.cd_offset, cd_size);
                    return Some((Ok(self.emit(buf.freeze())), self));
                }
                Step::Done => return None,
            }
        }
    }

    /// Counts `chunk` as written and returns it.
    fn emit(&mut self, chunk: Bytes) -> Bytes {
        self.written = self.written.saturating_add(chunk.len() as u64);
        chunk
    }
}
