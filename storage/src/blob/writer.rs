//! Streaming writes of one object through a multipart upload.
//!
//! Ciphertext accumulates in a buffer of `part_size` bytes; a full buffer becomes a part that
//! is uploaded in the background while the next one fills. At most `parts_in_flight` parts
//! are in flight: when that many are pending, [`BlobWriter::write`] waits for the oldest, and
//! that wait propagates back to whoever produces the data (the HTTP request body). Memory per
//! transfer is therefore bounded by `part_size × (parts_in_flight + 1)`.

use std::collections::VecDeque;
use std::sync::Arc;

use futures::future::BoxFuture;
use object_store::aws::AmazonS3;
use object_store::multipart::{MultipartStore, PartId};
use object_store::path::Path;
use object_store::{MultipartId, MultipartUpload, PutPayload};

use crate::error::Result;

enum Target {
    Local(Box<dyn MultipartUpload>),
    S3 {
        s3: Arc<AmazonS3>,
        path: Path,
        upload_id: MultipartId,
    },
}

/// An object being written. Call [`BlobWriter::finish`] to make it visible, or
/// [`BlobWriter::abort`] to discard it; a dropped writer leaves state for recovery to clean.
pub struct BlobWriter {
    target: Target,
    part_size: usize,
    parts_in_flight: usize,
    buffer: Vec<u8>,
    in_flight: VecDeque<BoxFuture<'static, object_store::Result<Option<PartId>>>>,
    parts: Vec<PartId>,
    written: u64,
}

impl BlobWriter {
    pub(super) fn local(
        upload: Box<dyn MultipartUpload>,
        part_size: usize,
        parts_in_flight: usize,
    ) -> Self {
        Self::new(Target::Local(upload), part_size, parts_in_flight)
    }

    pub(super) fn s3(
        s3: Arc<AmazonS3>,
        path: Path,
        upload_id: MultipartId,
        part_size: usize,
        parts_in_flight: usize,
    ) -> Self {
        Self::new(
            Target::S3 {
                s3,
                path,
                upload_id,
            },
            part_size,
            parts_in_flight,
        )
    }

    fn new(target: Target, part_size: usize, parts_in_flight: usize) -> Self {
        BlobWriter {
            target,
            part_size,
            parts_in_flight,
            buffer: Vec::with_capacity(part_size),
            in_flight: VecDeque::new(),
            parts: Vec::new(),
            written: 0,
        }
    }

    /// Bytes accepted so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Appends bytes, uploading full parts (and waiting when too many are in flight).
    pub async fn write(&mut self, mut data: &[u8]) -> Result<()> {
        while !data.is_empty() {
            let room = self.part_size - self.buffer.len();
            let take = room.min(data.len());
            self.buffer.extend_from_slice(&data[..take]);
            self.written += take as u64;
            data = &data[take..];
            if self.buffer.len() == self.part_size {
                self.send_part().await?;
            }
        }
        Ok(())
    }

    async fn send_part(&mut self) -> Result<()> {
        while self.in_flight.len() >= self.parts_in_flight {
            self.wait_oldest().await?;
        }
        let part = std::mem::replace(&mut self.buffer, Vec::with_capacity(self.part_size));
        let payload = PutPayload::from(part);
        let future: BoxFuture<'static, object_store::Result<Option<PartId>>> =
            match &mut self.target {
                Target::Local(upload) => {
                    let upload = upload.put_part(payload);
                    Box::pin(async move { upload.await.map(|()| None) })
                }
                Target::S3 {
                    s3,
                    path,
                    upload_id,
                } => {
                    let (s3, path, upload_id) = (s3.clone(), path.clone(), upload_id.clone());
                    let index = self.parts.len() + self.in_flight.len();
                    Box::pin(async move {
                        s3.put_part(&path, &upload_id, index, payload)
                            .await
                            .map(Some)
                    })
                }
            };
        self.in_flight.push_back(future);
        Ok(())
    }

    async fn wait_oldest(&mut self) -> Result<()> {
        if let Some(future) = self.in_flight.pop_front()
            && let Some(part) = future.await?
        {
            self.parts.push(part);
        }
        Ok(())
    }

    /// Uploads what remains and completes the object, returning its size.
    pub async fn finish(mut self) -> Result<u64> {
        if !self.buffer.is_empty() || (self.parts.is_empty() && self.in_flight.is_empty()) {
            self.send_part().await?;
        }
        while !self.in_flight.is_empty() {
            self.wait_oldest().await?;
        }
        match &mut self.target {
            Target::Local(upload) => {
                upload.complete().await?;
            }
            Target::S3 {
                s3,
                path,
                upload_id,
            } => {
                s3.complete_multipart(path, upload_id, std::mem::take(&mut self.parts))
                    .await?;
            }
        }
        Ok(self.written)
    }

    /// Discards the upload and whatever parts it stored.
    pub async fn abort(mut self) -> Result<()> {
        self.in_flight.clear();
        match &mut self.target {
            Target::Local(upload) => upload.abort().await?,
            Target::S3 {
                s3,
                path,
                upload_id,
            } => s3.abort_multipart(path, upload_id).await?,
        }
        Ok(())
    }
}
