//! Opening the storage layer from the settings: the master keyring (environment or key file,
//! created 0600 on first start) and the object store (local or S3).

use std::time::Duration;

use casevault_crypto::Keyring;
use casevault_storage::{BlobBackend, S3Config, SecretString, Storage, StorageConfig};

use crate::config::{Settings, StorageBackend};

/// Why storage could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    /// The master key could not be loaded or created.
    #[error("master key ({setting}): {source}")]
    Key {
        /// The setting that points at the key.
        setting: &'static str,
        /// What went wrong.
        source: casevault_crypto::CryptoError,
    },
    /// The metadata database or the object store could not be opened.
    #[error("storage: {0}")]
    Storage(#[from] casevault_storage::StorageError),
}

/// Loads the keyring: `security.master_key` from the environment when set, otherwise the key
/// file (generated on first start).
pub fn load_keyring(settings: &Settings) -> Result<Keyring, BackendError> {
    match &settings.security.master_key {
        Some(value) => {
            Keyring::from_env_value(value.expose()).map_err(|source| BackendError::Key {
                setting: "security.master_key",
                source,
            })
        }
        None => Keyring::load_or_create(&settings.master_key_file()).map_err(|source| {
            BackendError::Key {
                setting: "security.master_key_file",
                source,
            }
        }),
    }
}

/// The storage configuration the settings describe.
pub fn storage_config(settings: &Settings) -> StorageConfig {
    let mut config = StorageConfig::local(&settings.data_dir);
    if settings.storage.backend == StorageBackend::S3
        && let Some(s3) = &settings.storage.s3
    {
        config.backend = BlobBackend::S3(S3Config {
            endpoint: s3.endpoint.clone(),
            bucket: s3.bucket.clone(),
            region: s3.region.clone(),
            access_key_id: s3.access_key_id.clone(),
            secret_access_key: SecretString::new(
                s3.secret_access_key
                    .as_ref()
                    .map(|s| s.expose().to_owned())
                    .unwrap_or_default(),
            ),
            allow_http: s3.allow_http,
            virtual_hosted_style: s3.virtual_hosted_style,
        });
    }
    config
}

/// Loads the keys and opens storage for serving: runs the recovery sweep and gives back
/// the share downloads that were in flight when the last process stopped (no transfer
/// survives a restart).
pub async fn open(settings: &Settings) -> Result<Storage, BackendError> {
    let keyring = load_keyring(settings)?;
    let storage = Storage::open(storage_config(settings), keyring).await?;
    storage.meta().reset_downloads_in_flight().await?;
    Ok(storage)
}

/// How often the running server sweeps for interrupted uploads and orphan objects.
pub const SWEEP_INTERVAL: Duration = Duration::from_secs(60 * 60);

/// What the periodic sweep leaves alone: uploads and objects younger than this may belong to
/// a transfer in progress (resumable uploads included).
pub const SWEEP_GRACE: Duration = Duration::from_secs(24 * 60 * 60);

/// Runs the recovery sweep every [`SWEEP_INTERVAL`] until `stop` is cancelled (the sweep at
/// start already ran when storage was opened).
pub fn spawn_sweeper(storage: Storage, stop: tokio_util::sync::CancellationToken) {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(SWEEP_INTERVAL);
        ticks.tick().await;
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                _ = ticks.tick() => {
                    if let Err(e) = storage.sweep(Some(SWEEP_GRACE)).await {
                        tracing::warn!(error = %e, "periodic recovery sweep failed");
                    }
                }
            }
        }
    });
}
