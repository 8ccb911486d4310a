//! TLS: the rustls server configuration (TLS 1.2 and 1.3, AEAD suites only, X25519/P-256/P-384,
//! ALPN `h2` and `http/1.1`, aws-lc-rs as the only provider), the certificate source (the
//! configured files or a generated self-signed certificate) and its reloading resolver.

mod resolver;
pub mod self_signed;

use std::path::PathBuf;
use std::sync::Arc;

use rustls::crypto::{CryptoProvider, aws_lc_rs};
use rustls::version::{TLS12, TLS13};
use rustls::{ServerConfig, SupportedProtocolVersion};
use tokio_rustls::TlsAcceptor;

use crate::config::Settings;

pub use resolver::CertResolver;

/// Why TLS could not be set up, or a certificate could not be (re)loaded.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A certificate or key file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A PEM file could not be parsed.
    #[error("{path}: {message}")]
    Pem {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// rustls refused the key, the key does not match the certificate, or the configuration.
    #[error("{context}: {source}")]
    Rustls {
        /// What was being done.
        context: String,
        /// The underlying error.
        source: rustls::Error,
    },
    /// The self-signed certificate could not be generated.
    #[error("cannot generate the self-signed certificate: {0}")]
    Generate(#[from] rcgen::Error),
}

/// The protocol versions offered: TLS 1.3 and TLS 1.2, nothing older.
pub static PROTOCOL_VERSIONS: &[&SupportedProtocolVersion] = &[&TLS13, &TLS12];

/// The cryptography used for TLS: aws-lc-rs with AEAD cipher suites only (AES-GCM and
/// ChaCha20-Poly1305; ECDHE key exchange for TLS 1.2) and the key-exchange groups X25519,
/// secp256r1 and secp384r1 (the Mozilla "intermediate" set).
pub fn provider() -> CryptoProvider {
    use aws_lc_rs::cipher_suite::*;
    use aws_lc_rs::kx_group::{SECP256R1, SECP384R1, X25519};
    CryptoProvider {
        cipher_suites: vec![
            TLS13_AES_128_GCM_SHA256,
            TLS13_AES_256_GCM_SHA384,
            TLS13_CHACHA20_POLY1305_SHA256,
            TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
            TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
            TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
            TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
            TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
            TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
        ],
        kx_groups: vec![X25519, SECP256R1, SECP384R1],
        ..aws_lc_rs::default_provider()
    }
}

/// The server configuration around `resolver`: versions, suites, groups and ALPN.
pub fn server_config(resolver: Arc<CertResolver>) -> Result<ServerConfig, TlsError> {
    let mut config = ServerConfig::builder_with_provider(Arc::new(provider()))
        .with_protocol_versions(PROTOCOL_VERSIONS)
        .map_err(|source| TlsError::Rustls {
            context: "TLS configuration".to_owned(),
            source,
        })?
        .with_no_client_auth()
        .with_cert_resolver(resolver);
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

/// Everything the listener needs for TLS.
pub struct TlsSetup {
    /// Accepts TLS connections with [`server_config`].
    pub acceptor: TlsAcceptor,
    /// The certificate in use; reload it with [`CertResolver::reload`].
    pub resolver: Arc<CertResolver>,
    /// True when the certificate was generated (self-signed) rather than configured.
    pub self_signed: bool,
}

/// Loads the configured certificate, or generates (first start) or reuses the self-signed one
/// in `DATA_DIR/tls/`, and builds the acceptor.
pub fn setup(settings: &Settings) -> Result<TlsSetup, TlsError> {
    let (cert, key, self_signed) = match (&settings.http.tls_cert, &settings.http.tls_key) {
        (Some(cert), Some(key)) => (cert.clone(), key.clone(), false),
        _ => {
            let (cert, key) = self_signed::ensure(&settings.tls_dir())?;
            (cert, key, true)
        }
    };
    let resolver = Arc::new(CertResolver::load(cert, key, Arc::new(provider()))?);
    let config = server_config(Arc::clone(&resolver))?;
    Ok(TlsSetup {
        acceptor: TlsAcceptor::from(Arc::new(config)),
        resolver,
        self_signed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::{CipherSuite, NamedGroup, ProtocolVersion};

    #[test]
    fn only_tls12_and_tls13() {
        let versions: Vec<ProtocolVersion> = PROTOCOL_VERSIONS.iter().map(|v| v.version).collect();
        assert_eq!(
            versions,
            [ProtocolVersion::TLSv1_3, ProtocolVersion::TLSv1_2]
        );
    }

    #[test]
    fn only_aead_suites_and_intermediate_groups() {
        let provider = provider();
        for suite in &provider.cipher_suites {
            let name = format!("{:?}", suite.suite());
            assert!(
                name.contains("GCM") || name.contains("CHACHA20_POLY1305"),
                "{name}"
            );
            if suite.version().version == ProtocolVersion::TLSv1_2 {
                assert!(name.starts_with("TLS_ECDHE_"), "{name}");
            }
        }
        assert!(
            provider
                .cipher_suites
                .iter()
                .any(|s| s.suite() == CipherSuite::TLS13_AES_128_GCM_SHA256)
        );
        let groups: Vec<NamedGroup> = provider.kx_groups.iter().map(|g| g.name()).collect();
        assert_eq!(
            groups,
            [
                NamedGroup::X25519,
                NamedGroup::secp256r1,
                NamedGroup::secp384r1
            ]
        );
    }

    #[test]
    fn alpn_offers_h2_then_http11() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (cert, key) = self_signed::ensure(dir.path()).expect("generate");
        let resolver = Arc::new(CertResolver::load(cert, key, Arc::new(provider())).expect("load"));
        let config = server_config(resolver).expect("config");
        assert_eq!(
            config.alpn_protocols,
            [b"h2".to_vec(), b"http/1.1".to_vec()]
        );
    }
}
