//! The guard that undoes an upload which does not commit: its object is aborted, its
//! reservation released and its pending record deleted.

use crate::Storage;
use crate::ids::{BlobId, UploadId};
use crate::records::MultipartState;

/// Cleans up after an upload that did not commit: at once through
/// [`UploadGuard::clean_up`], or in the background when dropped still armed (a session or
/// an upload future dropped halfway).
pub(super) struct UploadGuard {
    /// Where the upload is stored.
    pub(super) storage: Storage,
    /// The pending upload.
    pub(super) upload: UploadId,
    /// The object it writes.
    pub(super) blob: BlobId,
    /// How to abort the object's multipart upload, once started.
    pub(super) state: MultipartState,
    /// Whether clean-up is still due: cleared once the upload commits or is cleaned up.
    pub(super) armed: bool,
}

impl UploadGuard {
    /// Cleans up now. The guard stays armed until the clean-up has run, so a clean-up that
    /// is itself dropped halfway is finished in the background.
    pub(super) async fn clean_up(&mut self) {
        if self.armed {
            abandon(&self.storage, self.upload, self.blob, &self.state).await;
            self.armed = false;
        }
    }
}

impl Drop for UploadGuard {
    fn drop(&mut self) {
        if self.armed
            && let Ok(handle) = tokio::runtime::Handle::try_current()
        {
            let (storage, upload, blob, state) = (
                self.storage.clone(),
                self.upload,
                self.blob,
                self.state.clone(),
            );
            handle.spawn(async move { abandon(&storage, upload, blob, &state).await });
        }
    }
}

/// Aborts an upload's object and releases its reservation; failures are left to recovery.
async fn abandon(storage: &Storage, upload: UploadId, blob: BlobId, state: &MultipartState) {
    // A commit whose transaction went through but whose flush failed reports an error, yet
    // its file exists: its object must stay.
    match storage.meta.blob_in_use(blob).await {
        Ok(false) => {}
        Ok(true) => return,
        Err(e) => {
            tracing::warn!(%blob, error = %e, "could not check an abandoned upload; recovery will retry");
            return;
        }
    }
    if let Err(e) = storage.blobs.abort(blob, state).await {
        tracing::warn!(%blob, error = %e, "could not abort an upload's object; recovery will retry");
        return;
    }
    if let Err(e) = storage.meta.release_upload(upload).await {
        tracing::warn!(%upload, error = %e, "could not release an upload's reservation; recovery will retry");
    }
}
