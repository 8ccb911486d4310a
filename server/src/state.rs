//! The application state every handler can extract with `State<AppState>`.

use std::ops::Deref;
use std::sync::Arc;
use std::time::SystemTime;

use crate::config::Settings;

/// Cheap-to-clone handle on the shared [`App`].
#[derive(Clone)]
pub struct AppState(Arc<App>);

impl AppState {
    /// Wraps `app`.
    pub fn new(app: App) -> Self {
        Self(Arc::new(app))
    }
}

impl Deref for AppState {
    type Target = App;

    fn deref(&self) -> &App {
        &self.0
    }
}

/// Everything handlers share. Handlers reach storage only through [`App::storage`], never
/// sled or the object store directly.
pub struct App {
    /// Keys, encrypted objects, metadata, quota and audit log.
    pub storage: casevault_storage::Storage,
    /// argon2id hashing with a bound on concurrent hashes.
    pub passwords: casevault_crypto::PasswordHasher,
    /// Session timeouts, the login throttle and the session clock.
    pub auth: crate::auth::runtime::AuthSlot,
    /// Share-link sessions and the grant change signal.
    pub links: crate::links::Links,
    /// Outgoing mail: the queue and, when `[smtp]` is configured, its delivery worker.
    pub mail: crate::mail::Mailer,
    /// Resumable (tus) uploads in progress.
    pub uploads: Arc<crate::tus::TusUploads>,
    /// The validated settings the server was started with.
    pub settings: Arc<Settings>,
    /// The public base URL (e.g. `https://files.example-clinic.org`, no trailing slash), for
    /// links in mails and responses.
    pub public_url: String,
    /// When this process started serving.
    pub started_at: SystemTime,
}
