//! Pending uploads (reservations and multipart state) and the object garbage queue.

use sled::Transactional;

use super::{Meta, abort, get, tx_get, tx_put};
use crate::codec;
use crate::error::{Result, StorageError};
use crate::ids::{BlobId, UploadId};
use crate::quota::QuotaRecord;
use crate::records::{MultipartState, PendingUpload};

impl Meta {
    /// Records an upload before anything reaches the object store, so that recovery can
    /// undo it after a crash.
    pub async fn begin_upload(&self, upload: PendingUpload) -> Result<()> {
        self.run_durable(move |m| {
            m.trees
                .uploads
                .insert(upload.id.as_bytes(), codec::encode(&upload)?)?;
            Ok(())
        })
        .await
    }

    /// Records how to abort the upload's multipart state in the object store.
    pub async fn set_multipart(&self, id: UploadId, state: MultipartState) -> Result<()> {
        self.run_durable(move |m| {
            m.trees.uploads.transaction(|uploads| {
                let Some(mut upload) = tx_get::<PendingUpload>(uploads, id.as_bytes())? else {
                    return abort(StorageError::NotFound("upload"));
                };
                upload.multipart = state.clone();
                tx_put(uploads, id.as_bytes(), &upload)
            })?;
            Ok(())
        })
        .await
    }

    /// Reserves `bytes` more for an upload, or fails with [`StorageError::QuotaExceeded`]
    /// leaving everything unchanged. Serialisable with every other quota change, so that
    /// concurrent uploads can never take `used + reserved` past the limit.
    pub async fn reserve(&self, id: UploadId, bytes: u64) -> Result<u64> {
        self.run(move |m| {
            let t = &m.trees;
            let total = (&t.uploads, &t.quota).transaction(|(uploads, quota)| {
                let Some(mut upload) = tx_get::<PendingUpload>(uploads, id.as_bytes())? else {
                    return abort(StorageError::NotFound("upload"));
                };
                let mut record: QuotaRecord =
                    tx_get(quota, &upload.account.key())?.unwrap_or_default();
                if record.available() < bytes {
                    return abort(StorageError::QuotaExceeded {
                        account: upload.account,
                        needed: bytes,
                        available: record.available(),
                    });
                }
                record.reserved += bytes;
                upload.reserved += bytes;
                tx_put(quota, &upload.account.key(), &record)?;
                tx_put(uploads, id.as_bytes(), &upload)?;
                Ok(upload.reserved)
            })?;
            Ok(total)
        })
        .await
    }

    /// Forgets an upload and releases its reservation (after an abort or during recovery).
    /// Releasing an upload that is already gone is not an error.
    pub async fn release_upload(&self, id: UploadId) -> Result<()> {
        self.run_durable(move |m| {
            let t = &m.trees;
            (&t.uploads, &t.quota).transaction(|(uploads, quota)| {
                let Some(upload) = tx_get::<PendingUpload>(uploads, id.as_bytes())? else {
                    return Ok(());
                };
                let mut record: QuotaRecord =
                    tx_get(quota, &upload.account.key())?.unwrap_or_default();
                record.reserved = record.reserved.saturating_sub(upload.reserved);
                tx_put(quota, &upload.account.key(), &record)?;
                uploads.remove(id.as_bytes())?;
                Ok(())
            })?;
            Ok(())
        })
        .await
    }

    /// One pending upload.
    pub async fn pending_upload(&self, id: UploadId) -> Result<Option<PendingUpload>> {
        self.run(move |m| get(&m.trees.uploads, id.as_bytes()))
            .await
    }

    /// Every pending upload.
    pub async fn pending_uploads(&self) -> Result<Vec<PendingUpload>> {
        self.run(|m| {
            m.trees
                .uploads
                .iter()
                .values()
                .map(|v| codec::decode(&v?))
                .collect()
        })
        .await
    }

    /// Objects queued for deletion.
    pub async fn garbage(&self) -> Result<Vec<BlobId>> {
        self.run(|m| {
            m.trees
                .garbage
                .iter()
                .keys()
                .map(|k| {
                    BlobId::from_slice(&k?).map_err(|_| StorageError::Codec("garbage key".into()))
                })
                .collect()
        })
        .await
    }

    /// Removes an object from the garbage queue once it is deleted.
    pub async fn forget_garbage(&self, blob: BlobId) -> Result<()> {
        self.run(move |m| {
            m.trees.garbage.remove(blob.as_bytes())?;
            Ok(())
        })
        .await
    }
}
