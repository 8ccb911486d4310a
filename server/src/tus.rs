//! Resumable uploads (tus 1.0: core, creation, termination, expiration): the uploads in
//! progress, kept in memory between the requests that feed them.
//!
//! Each upload is a storage [`UploadSession`]: bytes handed to it are hashed, sealed and
//! written once, so a chunk re-sent after a dropped connection is refused by its offset
//! (409) instead of being encrypted a second time. An upload lives until it completes, is
//! terminated, or expires ([`UPLOAD_LIFETIME`] after its creation, before the storage
//! sweep's grace period, after which storage would abort it underneath); a server restart
//! aborts the uploads in progress (the client starts again; nothing is left behind).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use casevault_crypto::TokenHash;
use casevault_storage::{CaseId, FileId, Timestamp, UploadSession, UserId};
use rand::RngExt;
use tokio_util::sync::CancellationToken;

/// How long an upload may take from its creation.
pub const UPLOAD_LIFETIME: Duration = Duration::from_secs(20 * 60 * 60);
/// Uploads in progress per user or link session.
pub const MAX_UPLOADS_PER_USER: usize = 32;
/// Uploads in progress on the server (each holds up to one object-store part in memory).
pub const MAX_UPLOADS: usize = 512;
/// How often expired uploads are aborted.
const SWEEP_EVERY: Duration = Duration::from_secs(60);

/// An upload's id in URLs: 128 random bits, unrelated to any storage id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TusId([u8; 16]);

impl TusId {
    fn random() -> Self {
        Self(rand::rng().random())
    }
}

impl std::fmt::Display for TusId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl std::str::FromStr for TusId {
    type Err = ();

    fn from_str(text: &str) -> Result<Self, ()> {
        // Same text form as the storage ids.
        let id: CaseId = text.parse().map_err(|_| ())?;
        Ok(Self(id.0))
    }
}

/// Where an upload stands.
pub enum Progress {
    /// Receiving bytes.
    Open(Box<UploadSession>),
    /// Complete: the stored file.
    Done(FileId),
    /// Terminated, expired or failed: nothing more is accepted.
    Closed,
}

/// Who created an upload: nobody else may see or feed it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TusOwner {
    /// A signed-in user.
    User(UserId),
    /// A share-link session (its token hash).
    Link(TokenHash),
}

/// One upload in progress.
pub struct TusUpload {
    /// Who created it.
    pub owner: TusOwner,
    /// The name the uploader gave (a drop link may store it under a free variant).
    pub given_name: String,
    /// The case it goes to.
    pub case: CaseId,
    /// The announced length.
    pub length: u64,
    /// When it stops being accepted.
    pub expires_at: Timestamp,
    /// The session or the finished file.
    pub progress: Progress,
}

impl TusUpload {
    /// Bytes received so far.
    pub fn offset(&self) -> u64 {
        match &self.progress {
            Progress::Open(session) => session.received(),
            Progress::Done(_) => self.length,
            Progress::Closed => 0,
        }
    }
}

impl TusUpload {
    /// Aborts the session, if still open, and accepts nothing more.
    pub async fn close(&mut self) {
        if let Progress::Open(session) = std::mem::replace(&mut self.progress, Progress::Closed) {
            session.abort().await;
        }
    }
}

/// A shared handle on one upload; a request holds its lock while it writes.
pub type Handle = Arc<tokio::sync::Mutex<TusUpload>>;

/// The lock on one upload, held by the task writing to it.
pub type Guard = tokio::sync::OwnedMutexGuard<TusUpload>;

/// Why an upload could not be registered.
#[derive(Debug, PartialEq, Eq)]
pub enum RegisterError {
    /// The user has [`MAX_UPLOADS_PER_USER`] uploads in progress.
    TooManyForUser,
    /// The server has [`MAX_UPLOADS`] uploads in progress.
    TooMany,
}

/// The uploads in progress.
#[derive(Default)]
pub struct TusUploads {
    entries: Mutex<HashMap<TusId, (TusOwner, Handle)>>,
}

impl std::fmt::Debug for TusUploads {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TusUploads").finish_non_exhaustive()
    }
}

impl TusUploads {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<TusId, (TusOwner, Handle)>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Registers a new upload and returns its id.
    pub fn register(&self, upload: TusUpload) -> Result<TusId, RegisterError> {
        let mut entries = self.lock();
        if entries.len() >= MAX_UPLOADS {
            return Err(RegisterError::TooMany);
        }
        let owner = upload.owner;
        if entries.values().filter(|(o, _)| *o == owner).count() >= MAX_UPLOADS_PER_USER {
            return Err(RegisterError::TooManyForUser);
        }
        let id = TusId::random();
        entries.insert(id, (owner, Arc::new(tokio::sync::Mutex::new(upload))));
        Ok(id)
    }

    /// The upload `id` if `caller` created it.
    pub fn get(&self, id: TusId, caller: TusOwner) -> Option<Handle> {
        self.lock()
            .get(&id)
            .filter(|(owner, _)| *owner == caller)
            .map(|(_, handle)| Arc::clone(handle))
    }

    /// Forgets an upload (its session, if still open, is dropped and so cleaned up).
    pub fn remove(&self, id: TusId) -> Option<Handle> {
        self.lock().remove(&id).map(|(_, handle)| handle)
    }

    /// Aborts and forgets every upload past its expiry; returns how many.
    pub async fn sweep(&self, now: Timestamp) -> usize {
        let candidates: Vec<(TusId, Handle)> = self
            .lock()
            .iter()
            .map(|(id, (_, handle))| (*id, Arc::clone(handle)))
            .collect();
        let mut swept = 0;
        for (id, handle) in candidates {
            // An upload being written to is not expired from under its request.
            let Ok(mut upload) = handle.try_lock() else {
                continue;
            };
            if upload.expires_at.0 > now.0 {
                continue;
            }
            self.remove(id);
            upload.close().await;
            swept += 1;
        }
        swept
    }

    /// Sweeps expired uploads every minute until `stop`.
    pub fn spawn_sweeper(self: &Arc<Self>, stop: CancellationToken) {
        let uploads = Arc::clone(self);
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(SWEEP_EVERY);
            loop {
                tokio::select! {
                    () = stop.cancelled() => return,
                    _ = ticks.tick() => {
                        let swept = uploads.sweep(Timestamp::now()).await;
                        if swept > 0 {
                            tracing::info!(swept, "expired resumable uploads aborted");
                        }
                    }
                }
            }
        });
    }
}
