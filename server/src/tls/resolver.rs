//! A certificate resolver that can swap its certificate while the server runs.
//!
//! [`CertResolver::reload_if_changed`] compares the files' modification time, size and inode
//! with what was loaded last; [`CertResolver::watch`] calls it on a timer, and the `serve`
//! command calls [`CertResolver::reload`] on SIGHUP. A new pair that fails to load (unreadable,
//! unparsable, key not matching the certificate) is logged and the old pair stays in use.

use std::fmt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, SystemTime};

use rustls::crypto::CryptoProvider;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_util::sync::CancellationToken;

use super::TlsError;

/// Serves the current certificate to every handshake and reloads it on request.
pub struct CertResolver {
    cert_path: PathBuf,
    key_path: PathBuf,
    provider: Arc<CryptoProvider>,
    current: RwLock<Loaded>,
}

/// The pair in use and what its files looked like when it was read.
struct Loaded {
    key: Arc<CertifiedKey>,
    fingerprint: String,
    stamp: Stamp,
}

/// Identifies a version of the certificate and key files.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Stamp([Option<(SystemTime, u64, u64)>; 2]);

impl Stamp {
    fn of(cert: &Path, key: &Path) -> Self {
        let one = |p: &Path| {
            std::fs::metadata(p).ok().map(|m| {
                (
                    m.modified().unwrap_or(SystemTime::UNIX_EPOCH),
                    m.len(),
                    m.ino(),
                )
            })
        };
        Stamp([one(cert), one(key)])
    }
}

impl CertResolver {
    /// Loads the PEM certificate chain and private key; fails if they do not match.
    pub fn load(
        cert_path: PathBuf,
        key_path: PathBuf,
        provider: Arc<CryptoProvider>,
    ) -> Result<Self, TlsError> {
        let loaded = read_pair(&cert_path, &key_path, &provider)?;
        Ok(Self {
            cert_path,
            key_path,
            provider,
            current: RwLock::new(loaded),
        })
    }

    /// The certificate file.
    pub fn cert_path(&self) -> &Path {
        &self.cert_path
    }

    /// SHA-256 fingerprint of the certificate in use, as colon-separated hex (`AB:CD:…`).
    pub fn fingerprint(&self) -> String {
        self.read().fingerprint.clone()
    }

    /// The certificate chain and key in use.
    pub fn current(&self) -> Arc<CertifiedKey> {
        Arc::clone(&self.read().key)
    }

    /// Reads the files again and switches to the new pair; on failure the old pair stays.
    pub fn reload(&self) -> Result<(), TlsError> {
        let result = read_pair(&self.cert_path, &self.key_path, &self.provider);
        let mut current = self.current.write().unwrap_or_else(PoisonError::into_inner);
        match result {
            Ok(loaded) => {
                *current = loaded;
                Ok(())
            }
            Err(err) => {
                // Remember the failed version so that the watcher does not retry it every tick.
                current.stamp = Stamp::of(&self.cert_path, &self.key_path);
                Err(err)
            }
        }
    }

    /// Reloads when either file changed since the last (successful or failed) load.
    /// Returns whether a new pair is in use.
    pub fn reload_if_changed(&self) -> Result<bool, TlsError> {
        let stamp = Stamp::of(&self.cert_path, &self.key_path);
        if self.read().stamp == stamp {
            return Ok(false);
        }
        self.reload().map(|()| true)
    }

    /// Checks the files every `interval` until `stop` is cancelled, logging reloads and errors.
    pub async fn watch(self: Arc<Self>, interval: Duration, stop: CancellationToken) {
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = ticker.tick() => {}
            }
            self.reload_logged(false);
        }
    }

    /// Reloads (always, or only when the files changed) and logs the outcome.
    pub fn reload_logged(&self, always: bool) {
        let result = if always {
            self.reload().map(|()| true)
        } else {
            self.reload_if_changed()
        };
        match result {
            Ok(true) => tracing::info!(
                path = %self.cert_path.display(),
                fingerprint = %self.fingerprint(),
                "TLS certificate reloaded"
            ),
            Ok(false) => {}
            Err(err) => tracing::error!(
                error = %err,
                "cannot reload the TLS certificate; the previous one stays in use"
            ),
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Loaded> {
        self.current.read().unwrap_or_else(PoisonError::into_inner)
    }
}

impl ResolvesServerCert for CertResolver {
    fn resolve(&self, _client_hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current())
    }
}

impl fmt::Debug for CertResolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertResolver")
            .field("cert_path", &self.cert_path)
            .field("fingerprint", &self.fingerprint())
            .finish_non_exhaustive()
    }
}

fn read_pair(cert: &Path, key: &Path, provider: &CryptoProvider) -> Result<Loaded, TlsError> {
    let stamp = Stamp::of(cert, key);
    let chain = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|err| pem_error(cert, err))?;
    let Some(leaf) = chain.first() else {
        return Err(TlsError::Pem {
            path: cert.to_owned(),
            message: "no certificate in the file".to_owned(),
        });
    };
    let fingerprint = fingerprint(leaf);
    let private_key = PrivateKeyDer::from_pem_file(key).map_err(|err| pem_error(key, err))?;
    let certified = CertifiedKey::from_der(chain, private_key, provider).map_err(|source| {
        TlsError::Rustls {
            context: format!("{} with {}", cert.display(), key.display()),
            source,
        }
    })?;
    Ok(Loaded {
        key: Arc::new(certified),
        fingerprint,
        stamp,
    })
}

/// SHA-256 of a DER certificate as uppercase colon-separated hex, like `openssl x509 -fingerprint`.
pub fn fingerprint(der: &[u8]) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, der);
    let hex: Vec<String> = digest.as_ref().iter().map(|b| format!("{b:02X}")).collect();
    hex.join(":")
}

fn pem_error(path: &Path, err: rustls_pki_types::pem::Error) -> TlsError {
    match err {
        rustls_pki_types::pem::Error::Io(source) => TlsError::Io {
            path: path.to_owned(),
            source,
        },
        other => TlsError::Pem {
            path: path.to_owned(),
            message: other.to_string(),
        },
    }
}

#[cfg(test)]
mod tests;
