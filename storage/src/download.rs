//! Reading files back: any byte range, fetching and opening only the chunks it touches.
//!
//! Memory per reader is bounded by about one sealed chunk plus what the object store client
//! buffers for one network read, whatever the size of the file or of the range.

use std::ops::Range;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use casevault_crypto::{Decryptor, RangePlan};
use futures::stream::{BoxStream, Stream, StreamExt};

use crate::Storage;
use crate::error::{Result, StorageError};
use crate::ids::FileId;
use crate::records::FileRecord;

/// A stream of verified plaintext for a byte range of a file.
pub struct FileStream {
    /// The plaintext range served.
    pub range: Range<u64>,
    /// The file's whole plaintext size.
    pub file_size: u64,
    inner: BoxStream<'static, Result<Bytes>>,
}

impl std::fmt::Debug for FileStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileStream")
            .field("range", &self.range)
            .finish_non_exhaustive()
    }
}

impl Stream for FileStream {
    type Item = Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.as_mut().poll_next(cx)
    }
}

struct Reader {
    file: FileId,
    decryptor: Decryptor,
    upstream: BoxStream<'static, Result<Bytes>>,
    buffer: BytesMut,
    next_chunk: u64,
    last_chunk: u64,
    skip: usize,
    remaining: u64,
}

impl Reader {
    /// Opens the next chunk once its sealed bytes are all buffered; `None` when done.
    async fn next(&mut self) -> Option<Result<Bytes>> {
        if self.remaining == 0 || self.next_chunk > self.last_chunk {
            return None;
        }
        let sealed_range = self.decryptor.layout().sealed_chunk_range(self.next_chunk);
        let sealed_len =
            usize::try_from(sealed_range.end - sealed_range.start).unwrap_or(usize::MAX);
        while self.buffer.len() < sealed_len {
            match self.upstream.next().await {
                Some(Ok(bytes)) => self.buffer.extend_from_slice(&bytes),
                Some(Err(e)) => return Some(Err(e)),
                None => {
                    return Some(Err(StorageError::Integrity {
                        file: Some(self.file),
                        source: casevault_crypto::CryptoError::Integrity {
                            chunk: Some(self.next_chunk),
                        },
                    }));
                }
            }
        }
        let sealed = self.buffer.split_to(sealed_len);
        let plaintext = match self.decryptor.open_chunk(self.next_chunk, &sealed) {
            Ok(plaintext) => plaintext,
            Err(source) => {
                return Some(Err(StorageError::Integrity {
                    file: Some(self.file),
                    source,
                }));
            }
        };
        self.next_chunk += 1;
        let mut plaintext = Bytes::from(plaintext);
        let skip = std::mem::take(&mut self.skip).min(plaintext.len());
        let _ = plaintext.split_to(skip);
        let keep = usize::try_from(self.remaining)
            .unwrap_or(usize::MAX)
            .min(plaintext.len());
        plaintext.truncate(keep);
        self.remaining -= keep as u64;
        Some(Ok(plaintext))
    }
}

impl Storage {
    /// Streams `range` of a file's plaintext (the whole file when `None`). Every chunk is
    /// authenticated before any of its bytes are yielded; a tampered or truncated object
    /// ends the stream with [`StorageError::Integrity`].
    pub async fn read_file(
        &self,
        file: &FileRecord,
        range: Option<Range<u64>>,
    ) -> Result<FileStream> {
        let range = match range {
            None => 0..file.size,
            Some(r) if r.start < r.end && r.end <= file.size => r,
            Some(_) => return Err(StorageError::RangeNotSatisfiable { size: file.size }),
        };
        let case = self
            .meta
            .case(file.case)
            .await?
            .ok_or(StorageError::NotFound("case"))?;
        let key = self.case_key(&case)?;
        let decryptor = Decryptor::new(&key, &file.header, file.object_size).map_err(|source| {
            StorageError::Integrity {
                file: Some(file.id),
                source,
            }
        })?;
        if decryptor.plaintext_len() != file.size {
            return Err(StorageError::Integrity {
                file: Some(file.id),
                source: casevault_crypto::CryptoError::Integrity { chunk: None },
            });
        }
        if range.is_empty() {
            return Ok(FileStream {
                range,
                file_size: file.size,
                inner: futures::stream::empty().boxed(),
            });
        }
        let plan: RangePlan = decryptor.layout().plan(range.clone());
        let upstream = self
            .blobs
            .read(file.blob, plan.object_range.clone())
            .await?;
        let reader = Reader {
            file: file.id,
            decryptor,
            upstream,
            buffer: BytesMut::new(),
            next_chunk: plan.first_chunk,
            last_chunk: plan.last_chunk,
            skip: plan.skip,
            remaining: plan.len,
        };
        let inner = futures::stream::unfold(reader, |mut reader| async move {
            reader.next().await.map(|item| (item, reader))
        })
        .boxed();
        Ok(FileStream {
            range,
            file_size: file.size,
            inner,
        })
    }
}
