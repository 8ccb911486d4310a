//! The recovery sweep: finishes or undoes what a crash or a failed request left behind.
//!
//! Run at start (everything pending is stale then) and periodically with a grace period (so
//! that uploads in progress are left alone). It aborts stale uploads and releases their
//! reservations, deletes objects queued for deletion, and deletes orphan objects: objects
//! that neither a file nor a pending upload refers to. At start it also forgets every
//! download claimed through a grant (no transfer survives a restart) and removes grants
//! whose target is gone.

use std::collections::HashSet;
use std::time::Duration;

use crate::Storage;
use crate::error::Result;
use crate::ids::BlobId;

/// What a sweep did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RecoveryReport {
    /// Interrupted uploads aborted (objects deleted, reservations released).
    pub uploads_aborted: usize,
    /// Queued deletions carried out.
    pub garbage_deleted: usize,
    /// Unreferenced objects (and local staging files) deleted.
    pub orphans_deleted: usize,
    /// Grants whose downloads in flight were reset (at start only).
    pub download_claims_reset: usize,
    /// Grants removed because what they pointed at is gone (at start only).
    pub grants_pruned: usize,
}

impl Storage {
    /// Sweeps everything: to be called when no upload can be in progress (at start).
    pub async fn recover(&self) -> Result<RecoveryReport> {
        let mut report = self.sweep(None).await?;
        report.download_claims_reset = self.meta.reset_downloads_in_flight().await?;
        report.grants_pruned = self.meta.prune_dangling_grants().await?;
        if report.download_claims_reset > 0 || report.grants_pruned > 0 {
            tracing::info!(
                claims_reset = report.download_claims_reset,
                grants_pruned = report.grants_pruned,
                "grant clean-up at start"
            );
        }
        Ok(report)
    }

    /// Sweeps what is older than `grace`: safe while the server is running.
    pub async fn sweep(&self, grace: Option<Duration>) -> Result<RecoveryReport> {
        let mut report = RecoveryReport::default();
        let is_stale = |age: Duration| grace.is_none_or(|grace| age >= grace);

        let pending = self.meta.pending_uploads().await?;
        let mut live: HashSet<BlobId> = HashSet::new();
        for upload in pending {
            if is_stale(upload.started_at.elapsed()) {
                self.blobs.abort(upload.blob, &upload.multipart).await?;
                self.meta.release_upload(upload.id).await?;
                report.uploads_aborted += 1;
            } else {
                live.insert(upload.blob);
            }
        }

        for blob in self.meta.garbage().await? {
            self.blobs.delete(blob).await?;
            self.meta.forget_garbage(blob).await?;
            report.garbage_deleted += 1;
        }

        let live_list: Vec<BlobId> = live.iter().copied().collect();
        for blob in self.blobs.local_staging_orphans(&live_list)? {
            self.blobs.remove_staging(blob)?;
            report.orphans_deleted += 1;
        }
        for object in self.blobs.list().await? {
            if live.contains(&object.id) || !is_stale(object.modified.elapsed()) {
                continue;
            }
            if !self.meta.blob_in_use(object.id).await? {
                self.blobs.delete(object.id).await?;
                report.orphans_deleted += 1;
            }
        }
        if report != RecoveryReport::default() {
            tracing::info!(?report, "recovery sweep cleaned up");
        }
        Ok(report)
    }
}
