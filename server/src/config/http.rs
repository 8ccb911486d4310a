//! The `[http]` section: listener, TLS files, timeouts and limits.

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::duration;

/// The HTTPS listener.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpSettings {
    /// Address to listen on. Default `0.0.0.0`.
    pub bind: IpAddr,
    /// HTTPS port; `0` picks a free port (tests). Default `8443`.
    pub port: u16,
    /// Public base URL used in links and redirects, e.g. `https://files.example-clinic.org`.
    /// Default: `https://localhost:PORT`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_url: Option<String>,
    /// Optional plain-HTTP port that only answers `308` redirects to the public URL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redirect_port: Option<u16>,
    /// PEM certificate chain. When both `tls_cert` and `tls_key` are absent, a self-signed
    /// certificate for localhost is generated in `DATA_DIR/tls/` and reused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1) matching `tls_cert`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_key: Option<PathBuf>,
    /// How often the certificate files are checked for changes (SIGHUP reloads at once).
    /// Default `30s`.
    #[serde(with = "duration")]
    pub tls_reload_interval: Duration,
    /// Timeouts.
    pub timeouts: HttpTimeouts,
    /// Connection and request limits.
    pub limits: HttpLimits,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            bind: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            port: 8443,
            public_url: None,
            redirect_port: None,
            tls_cert: None,
            tls_key: None,
            tls_reload_interval: Duration::from_secs(30),
            timeouts: HttpTimeouts::default(),
            limits: HttpLimits::default(),
        }
    }
}

/// Timeouts of the HTTP stack. Durations are written like `10s`, `500ms` or `2m`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpTimeouts {
    /// Time allowed for the TLS handshake. Default `10s`.
    #[serde(with = "duration")]
    pub tls_handshake: Duration,
    /// Time allowed to receive a request's headers. For HTTP/1.1 the clock also runs while a
    /// kept-alive connection waits for its next request. Default `10s`.
    #[serde(with = "duration")]
    pub header_read: Duration,
    /// A connection with no request in flight for this long is closed, and so is one whose
    /// peer has not accepted a single byte of response for this long. Default `60s`.
    #[serde(with = "duration")]
    pub idle: Duration,
    /// On shutdown, how long in-flight requests may still run. Default `30s`.
    #[serde(with = "duration")]
    pub shutdown_grace: Duration,
}

impl Default for HttpTimeouts {
    fn default() -> Self {
        Self {
            tls_handshake: Duration::from_secs(10),
            header_read: Duration::from_secs(10),
            idle: Duration::from_secs(60),
            shutdown_grace: Duration::from_secs(30),
        }
    }
}

/// Limits of the HTTP stack.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpLimits {
    /// Largest request head (request line and headers) in bytes. Default 16 KiB.
    pub max_header_size: usize,
    /// Connections served at once; further clients wait in the listen backlog. Default 1024.
    pub max_connections: usize,
    /// Concurrent HTTP/2 streams per connection. Default 64.
    pub h2_max_concurrent_streams: u32,
    /// Slowest accepted request body, in bytes per second, averaged over
    /// `min_transfer_window`. A body slower than this fails with 408. Default 1024.
    pub min_transfer_rate: u64,
    /// The window over which `min_transfer_rate` is measured. Default `30s`.
    #[serde(with = "duration")]
    pub min_transfer_window: Duration,
}

impl Default for HttpLimits {
    fn default() -> Self {
        Self {
            max_header_size: 16 * 1024,
            max_connections: 1024,
            h2_max_concurrent_streams: 64,
            min_transfer_rate: 1024,
            min_transfer_window: Duration::from_secs(30),
        }
    }
}
