//! The server as a value: [`Server::build`] binds the listeners and loads TLS (so errors show
//! before anything is served and port 0 reports its real port), [`Server::run_until_stopped`]
//! serves until a [`ServerHandle`] asks it to stop. The `serve` command and the end-to-end
//! tests both start the server this way.

use std::fs::DirBuilder;
use std::net::SocketAddr;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use crate::config::Settings;
use crate::http::conn::{self, ConnContext};
use crate::http::min_rate::MinRate;
use crate::http::redirect::{self, RedirectContext};
use crate::http::{accept, protocol};
use crate::routes;
use crate::state::{App, AppState};
use crate::tls::{self, CertResolver, TlsError, TlsSetup};

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The data directory could not be created.
    #[error("cannot create the data directory {path}: {source}")]
    DataDir {
        /// The directory.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A listener could not be bound.
    #[error("cannot listen on {addr} ({setting}): {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The setting that chose the port.
        setting: &'static str,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The certificate could not be loaded or generated.
    #[error("TLS: {0}")]
    Tls(#[from] TlsError),
    /// The keys or the storage could not be opened.
    #[error(transparent)]
    Backend(#[from] crate::backend::BackendError),
    /// The SMTP client could not be set up.
    #[error(transparent)]
    Mail(#[from] crate::mail::MailError),
}

/// Password hashes computed at once: half the cores, at least one (each takes ~19 MiB and
/// one core for ~40 ms). More requests wait, so a flood of wrong passwords can neither
/// exhaust memory nor take every core from the transfers of legitimate users
/// (BENCHMARKS.md, case 6).
pub fn password_hashes_at_once() -> usize {
    std::thread::available_parallelism().map_or(1, |n| (n.get() / 2).max(1))
}

/// A bound, ready-to-run server.
pub struct Server {
    settings: Arc<Settings>,
    listener: TcpListener,
    redirect: Option<TcpListener>,
    tls: TlsSetup,
    state: AppState,
    shutdown: CancellationToken,
}

/// Stops a running server: it stops accepting, lets in-flight requests finish for up to
/// `http.timeouts.shutdown_grace`, then returns from [`Server::run_until_stopped`].
#[derive(Debug, Clone)]
pub struct ServerHandle(CancellationToken);

impl ServerHandle {
    /// Starts the graceful shutdown.
    pub fn shutdown(&self) {
        self.0.cancel();
    }

    /// Whether the shutdown has started.
    pub fn is_shutting_down(&self) -> bool {
        self.0.is_cancelled()
    }
}

impl Server {
    /// Creates the data directory, loads or generates the certificate and binds the HTTPS
    /// listener (and the redirect listener, if configured). Port 0 binds a free port.
    pub async fn build(settings: Settings) -> Result<Self, StartError> {
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&settings.data_dir)
            .map_err(|source| StartError::DataDir {
                path: settings.data_dir.clone(),
                source,
            })?;
        let tls = tls::setup(&settings)?;
        let listener = bind(
            SocketAddr::new(settings.http.bind, settings.http.port),
            "http.port",
        )
        .await?;
        let redirect = match settings.http.redirect_port {
            Some(port) => Some(
                bind(
                    SocketAddr::new(settings.http.bind, port),
                    "http.redirect_port",
                )
                .await?,
            ),
            None => None,
        };
        let port = local_addr(&listener).port();
        let storage = crate::backend::open(&settings).await?;
        let shutdown = CancellationToken::new();
        crate::backend::spawn_sweeper(storage.clone(), shutdown.clone());
        let settings = Arc::new(settings);
        let uploads = Arc::new(crate::tus::TusUploads::default());
        uploads.spawn_sweeper(shutdown.clone());
        let mail = crate::mail::Mailer::new(storage.clone(), settings.smtp.as_ref())?;
        let state = AppState::new(App {
            links: Default::default(),
            mail,
            uploads,
            storage,
            passwords: casevault_crypto::PasswordHasher::new(
                casevault_crypto::Argon2Params::default(),
                password_hashes_at_once(),
            ),
            auth: Default::default(),
            public_url: settings.public_url(port),
            settings: Arc::clone(&settings),
            started_at: SystemTime::now(),
        });
        crate::links::spawn_sweeper(state.clone(), shutdown.clone());
        crate::links::reminders::spawn(state.clone(), shutdown.clone());
        Ok(Self {
            settings,
            listener,
            redirect,
            tls,
            state,
            shutdown,
        })
    }

    /// The address the HTTPS listener is bound to.
    pub fn local_addr(&self) -> SocketAddr {
        local_addr(&self.listener)
    }

    /// The HTTPS port (useful with port 0).
    pub fn port(&self) -> u16 {
        self.local_addr().port()
    }

    /// The address of the redirect listener, if configured.
    pub fn redirect_addr(&self) -> Option<SocketAddr> {
        self.redirect.as_ref().map(local_addr)
    }

    /// The public base URL.
    pub fn public_url(&self) -> &str {
        &self.state.public_url
    }

    /// The PEM certificate file in use (the generated one when self-signed).
    pub fn certificate_path(&self) -> &Path {
        self.tls.resolver.cert_path()
    }

    /// SHA-256 fingerprint of the certificate in use.
    pub fn certificate_fingerprint(&self) -> String {
        self.tls.resolver.fingerprint()
    }

    /// Whether the certificate was generated rather than configured.
    pub fn is_self_signed(&self) -> bool {
        self.tls.self_signed
    }

    /// The certificate resolver, to reload the certificate (SIGHUP).
    pub fn tls_resolver(&self) -> Arc<CertResolver> {
        Arc::clone(&self.tls.resolver)
    }

    /// The application state handlers see.
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// A handle that stops the server.
    pub fn handle(&self) -> ServerHandle {
        ServerHandle(self.shutdown.clone())
    }

    /// Serves until [`ServerHandle::shutdown`], then drains connections and returns. The
    /// mail delivery worker runs meanwhile and has stopped when this returns.
    pub async fn run_until_stopped(self) {
        let mail_worker = self.state.mail.spawn_worker(self.shutdown.child_token());
        let http = &self.settings.http;
        let grace = http.timeouts.shutdown_grace;
        let limiter = Arc::new(Semaphore::new(http.limits.max_connections));
        let ctx = Arc::new(ConnContext {
            acceptor: self.tls.acceptor.clone(),
            router: routes::router(self.state.clone()),
            http1: protocol::http1(http),
            http2: protocol::http2(http),
            handshake_timeout: http.timeouts.tls_handshake,
            idle_timeout: http.timeouts.idle,
            min_rate: MinRate::new(
                http.limits.min_transfer_rate,
                http.limits.min_transfer_window,
            ),
            shutdown: self.shutdown.clone(),
        });
        let watcher = tokio::spawn(
            self.tls_resolver()
                .watch(http.tls_reload_interval, self.shutdown.child_token()),
        );
        let https = accept::run(
            self.listener,
            Arc::clone(&limiter),
            self.shutdown.clone(),
            grace,
            move |tcp, peer| conn::serve_tls(tcp, peer, Arc::clone(&ctx)),
        );
        let redirects = async {
            let Some(listener) = self.redirect else {
                return;
            };
            let ctx = Arc::new(RedirectContext {
                public_url: self.state.public_url.clone(),
                http1: protocol::http1(http),
                idle_timeout: http.timeouts.idle,
                shutdown: self.shutdown.clone(),
            });
            accept::run(
                listener,
                limiter,
                self.shutdown.clone(),
                grace,
                move |tcp, peer| redirect::serve(tcp, peer, Arc::clone(&ctx)),
            )
            .await;
        };
        tokio::join!(https, redirects);
        self.shutdown.cancel();
        let _ = watcher.await;
        if let Some(worker) = mail_worker {
            let _ = worker.await;
        }
        tracing::info!("server stopped");
    }
}

async fn bind(addr: SocketAddr, setting: &'static str) -> Result<TcpListener, StartError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| StartError::Bind {
            addr,
            setting,
            source,
        })
}

fn local_addr(listener: &TcpListener) -> SocketAddr {
    listener
        .local_addr()
        .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)))
}
