//! Helpers shared by the end-to-end tests: start the real server in-process on a free port with
//! a fresh data directory, and talk to it over real TLS with clients that trust only its
//! certificate. [`mail_sink`] reads what the test SMTP server received.
//!
//! ```no_run
//! # async fn example() {
//! let app = casevault_tests::spawn_app().await;
//! let response = app.get("/api/v1/health").await;
//! assert_eq!(response.status(), 200);
//! # }
//! ```

pub mod browser;
pub mod mail_sink;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Once};

use casevault_server::config::{S3Settings, Secret, StorageBackend};
use casevault_server::tls::CertResolver;
use casevault_server::{Server, ServerHandle, Settings};
use rustls::SupportedProtocolVersion;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use tempfile::TempDir;
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

mod practice;

pub use practice::{
    DEFAULT_QUOTA, Practice, Quota, SETTLE_TIMEOUT, Snapshot, TestUser, USER_PASSWORD,
    expect_error, expect_json, files_under, hex, id_of, percent_encode, pseudo_random, sha256_hex,
};

/// Which object store a test runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Files under the data directory.
    Local,
    /// The S3-protocol server described by the `CASEVAULT_TEST_S3_*` variables.
    S3,
}

/// A running server and what a test needs to reach it.
pub struct TestApp {
    /// `https://localhost:PORT`.
    pub address: String,
    /// The HTTPS port.
    pub port: u16,
    /// The plain-HTTP redirect port, when the test configured one.
    pub redirect_port: Option<u16>,
    /// The server's data directory, deleted when the app is dropped.
    pub data_dir: TempDir,
    /// An HTTP client (HTTP/1.1 or HTTP/2 by ALPN) that trusts only this server's certificate.
    pub client: reqwest::Client,
    /// The server's certificate (PEM) as loaded at start.
    pub cert_pem: Vec<u8>,
    /// SHA-256 fingerprint of the certificate at start.
    pub fingerprint: String,
    /// The server's certificate resolver, to reload the certificate as SIGHUP would.
    pub resolver: Arc<CertResolver>,
    /// The settings the server was started with.
    pub settings: Settings,
    handle: ServerHandle,
    task: JoinHandle<()>,
}

/// Starts a server with default test settings and the local backend.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Starts a server after `configure` has adjusted the test settings.
pub async fn spawn_app_with(configure: impl FnOnce(&mut Settings)) -> TestApp {
    let data_dir = tempfile::tempdir().expect("create a temporary data directory");
    spawn_app_in(data_dir, configure).await
}

/// Starts a server on `backend`; `None` (with a printed note) when the S3 backend is asked
/// for but not described by the environment and `CASEVAULT_TEST_REQUIRE_SERVICES` is not `1`.
pub async fn spawn_app_on(
    backend: Backend,
    configure: impl FnOnce(&mut Settings),
) -> Option<TestApp> {
    let s3 = match backend {
        Backend::Local => None,
        Backend::S3 => Some(s3_settings()?),
    };
    Some(
        spawn_app_with(|settings| {
            if let Some(s3) = s3 {
                settings.storage.backend = StorageBackend::S3;
                settings.storage.s3 = Some(s3);
            }
            configure(settings);
        })
        .await,
    )
}

/// Starts a server in an existing data directory (e.g. one a stopped app handed back).
pub async fn spawn_app_in(data_dir: TempDir, configure: impl FnOnce(&mut Settings)) -> TestApp {
    init_logging();
    let settings = test_settings(data_dir.path(), configure);
    let server = Server::build(settings.clone())
        .await
        .expect("the test server starts");
    let port = server.port();
    let redirect_port = server.redirect_addr().map(|addr| addr.port());
    let cert_pem = std::fs::read(server.certificate_path()).expect("read the certificate");
    let fingerprint = server.certificate_fingerprint();
    let resolver = server.tls_resolver();
    let handle = server.handle();
    let task = tokio::spawn(server.run_until_stopped());
    let client = client_builder(&cert_pem)
        .build()
        .expect("build the HTTP client");
    TestApp {
        address: format!("https://localhost:{port}"),
        port,
        redirect_port,
        data_dir,
        client,
        cert_pem,
        fingerprint,
        resolver,
        settings,
        handle,
        task,
    }
}

/// Settings for a test: loopback, port 0, the given data directory, quick shutdown.
pub fn test_settings(data_dir: &Path, configure: impl FnOnce(&mut Settings)) -> Settings {
    let mut settings = Settings {
        data_dir: data_dir.to_owned(),
        ..Settings::default()
    };
    settings.http.bind = [127, 0, 0, 1].into();
    settings.http.port = 0;
    settings.http.timeouts.shutdown_grace = std::time::Duration::from_secs(5);
    configure(&mut settings);
    settings
}

/// S3 settings from `CASEVAULT_TEST_S3_{ENDPOINT,BUCKET,REGION,ACCESS_KEY,SECRET_KEY}`; `None`
/// with a note when they are missing, a panic when `CASEVAULT_TEST_REQUIRE_SERVICES=1`.
pub fn s3_settings() -> Option<S3Settings> {
    let [endpoint, bucket, region, key, secret] = service_vars(
        [
            "CASEVAULT_TEST_S3_ENDPOINT",
            "CASEVAULT_TEST_S3_BUCKET",
            "CASEVAULT_TEST_S3_REGION",
            "CASEVAULT_TEST_S3_ACCESS_KEY",
            "CASEVAULT_TEST_S3_SECRET_KEY",
        ],
        "the S3 variant",
        "an S3 server",
    )?;
    Some(S3Settings {
        allow_http: endpoint.starts_with("http://"),
        endpoint: Some(endpoint),
        bucket,
        region,
        access_key_id: key,
        secret_access_key: Some(Secret::new(secret)),
        ..S3Settings::default()
    })
}

/// The values of the variables describing a service `scripts/test` starts: `None` with a
/// note naming the missing ones (skipping `part`), or a panic when
/// `CASEVAULT_TEST_REQUIRE_SERVICES=1`.
pub fn service_vars<const N: usize>(
    names: [&str; N],
    part: &str,
    service: &str,
) -> Option<[String; N]> {
    let values = names.map(|name| std::env::var(name).ok());
    let missing: Vec<&str> = names
        .iter()
        .zip(&values)
        .filter(|(_, v)| v.is_none())
        .map(|(n, _)| *n)
        .collect();
    if missing.is_empty() {
        return Some(values.map(Option::unwrap_or_default));
    }
    let note = format!("{} not set", missing.join(", "));
    if std::env::var("CASEVAULT_TEST_REQUIRE_SERVICES").as_deref() == Ok("1") {
        panic!("{note}, but CASEVAULT_TEST_REQUIRE_SERVICES=1 (run scripts/test)");
    }
    eprintln!("note: skipping {part}: {note} (scripts/test starts {service})");
    None
}

/// A reqwest client builder that trusts only `cert_pem` (no system roots), over rustls.
pub fn client_builder(cert_pem: &[u8]) -> reqwest::ClientBuilder {
    let cert = reqwest::Certificate::from_pem(cert_pem).expect("parse the server certificate");
    reqwest::Client::builder()
        .tls_certs_only([cert])
        .https_only(true)
        .redirect(reqwest::redirect::Policy::none())
}

impl TestApp {
    /// The full URL of `path` (which starts with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// `GET path`.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("GET request")
    }

    /// `POST path` with a JSON body.
    pub async fn post_json(&self, path: &str, body: &impl serde::Serialize) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .expect("POST request")
    }

    /// `DELETE path`.
    pub async fn delete(&self, path: &str) -> reqwest::Response {
        self.client
            .delete(self.url(path))
            .send()
            .await
            .expect("DELETE request")
    }

    /// A client forced to HTTP/1.1 (ALPN offers only `http/1.1`) or to HTTP/2 (only `h2`).
    pub fn client_for(&self, version: reqwest::Version) -> reqwest::Client {
        let builder = client_builder(&self.cert_pem);
        let builder = if version == reqwest::Version::HTTP_2 {
            builder.http2_prior_knowledge()
        } else {
            builder.http1_only()
        };
        builder.build().expect("build the HTTP client")
    }

    /// The HTTPS socket address.
    pub fn socket_addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// A rustls client configuration trusting only this server's start-up certificate,
    /// limited to `versions` and offering the ALPN protocols `alpn`.
    pub fn tls_config(
        &self,
        versions: &[&'static SupportedProtocolVersion],
        alpn: &[&[u8]],
    ) -> rustls::ClientConfig {
        tls_config_trusting(&[&self.cert_pem], versions, alpn)
    }

    /// Opens a raw TLS connection with `config` (to speak HTTP by hand).
    pub async fn tls_connect(
        &self,
        config: rustls::ClientConfig,
    ) -> std::io::Result<TlsStream<TcpStream>> {
        let tcp = TcpStream::connect(self.socket_addr()).await?;
        tcp.set_nodelay(true)?;
        let name =
            rustls_pki_types::ServerName::try_from("localhost").map_err(std::io::Error::other)?;
        TlsConnector::from(Arc::new(config))
            .connect(name, tcp)
            .await
    }

    /// Stops the server (graceful shutdown) and hands back the data directory.
    pub async fn stop(self) -> TempDir {
        self.handle.shutdown();
        self.task.await.expect("the server task ends cleanly");
        self.data_dir
    }

    /// The path of a file in the data directory.
    pub fn data_path(&self, relative: &str) -> PathBuf {
        self.data_dir.path().join(relative)
    }
}

/// A rustls client configuration trusting only the given PEM certificates.
pub fn tls_config_trusting(
    certs_pem: &[&[u8]],
    versions: &[&'static SupportedProtocolVersion],
    alpn: &[&[u8]],
) -> rustls::ClientConfig {
    let mut roots = rustls::RootCertStore::empty();
    for pem in certs_pem {
        let cert = CertificateDer::from_pem_slice(pem).expect("parse a PEM certificate");
        roots.add(cert).expect("add a root certificate");
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)
        .expect("supported TLS versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    config
}

/// Sends server logs to the test output when `TEST_LOG` is set (e.g. `TEST_LOG=debug`).
fn init_logging() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        if let Ok(filter) = std::env::var("TEST_LOG") {
            let _ = casevault_server::telemetry::init(&filter);
        }
    });
}

// ---------------------------------------------------------------------------------------
// Accounts and sessions: a server whose state the test keeps, the first administrator,
// signed-in clients.
// ---------------------------------------------------------------------------------------

/// The first administrator's e-mail in tests.
pub const ADMIN_EMAIL: &str = "admin@example-clinic.org";
/// The first administrator's password in tests.
pub const ADMIN_PASSWORD: &str = "correct horse battery staple";

/// Like [`spawn_app_with`], also handing back the application state (storage, auth
/// runtime, mailer). The state keeps the database open until it is dropped.
pub async fn spawn_app_with_state(
    configure: impl FnOnce(&mut Settings),
) -> (TestApp, casevault_server::AppState) {
    spawn_app_with_state_on(Backend::Local, configure)
        .await
        .expect("the local backend always runs")
}

/// Like [`spawn_app_with_state`] on `backend`; `None` (with a note) when the S3 backend is
/// asked for but not configured (see [`spawn_app_on`]).
pub async fn spawn_app_with_state_on(
    backend: Backend,
    configure: impl FnOnce(&mut Settings),
) -> Option<(TestApp, casevault_server::AppState)> {
    let s3 = match backend {
        Backend::Local => None,
        Backend::S3 => Some(s3_settings()?),
    };
    let data_dir = tempfile::tempdir().expect("create a temporary data directory");
    let started = spawn_app_in_with_state(data_dir, |settings| {
        if let Some(s3) = s3 {
            settings.storage.backend = StorageBackend::S3;
            settings.storage.s3 = Some(s3);
        }
        configure(settings);
    })
    .await;
    Some(started)
}

/// Like [`spawn_app_in`], also handing back the application state. Drop the state (and
/// stop the app) before starting another server in the same data directory.
pub async fn spawn_app_in_with_state(
    data_dir: TempDir,
    configure: impl FnOnce(&mut Settings),
) -> (TestApp, casevault_server::AppState) {
    init_logging();
    let settings = test_settings(data_dir.path(), configure);
    let server = Server::build(settings.clone())
        .await
        .expect("the test server starts");
    let state = server.state().clone();
    let port = server.port();
    let cert_pem = std::fs::read(server.certificate_path()).expect("read the certificate");
    let app = TestApp {
        address: format!("https://localhost:{port}"),
        port,
        redirect_port: server.redirect_addr().map(|addr| addr.port()),
        data_dir,
        client: client_builder(&cert_pem)
            .build()
            .expect("build the HTTP client"),
        cert_pem,
        fingerprint: server.certificate_fingerprint(),
        resolver: server.tls_resolver(),
        settings,
        handle: server.handle(),
        task: tokio::spawn(server.run_until_stopped()),
    };
    (app, state)
}

/// A server whose first administrator ([`ADMIN_EMAIL`], [`ADMIN_PASSWORD`]) has been
/// created through the setup link, and the administrator's session.
pub async fn spawn_app_with_admin() -> (TestApp, casevault_server::AppState, Session) {
    let (app, state) = spawn_app_with_state(|_| {}).await;
    let token = casevault_server::auth::setup::ensure_setup_token(&state)
        .await
        .expect("create the setup token")
        .expect("no account exists yet");
    let response = app
        .post_json(
            "/api/v1/setup",
            &serde_json::json!({
                "token": token.as_str(),
                "email": ADMIN_EMAIL,
                "display_name": "Admin",
                "password": ADMIN_PASSWORD,
            }),
        )
        .await;
    assert_eq!(response.status(), 201, "setup succeeds");
    let session = Session::from_response(response).await;
    (app, state, session)
}

/// A signed-in browser session: the `cv_session` cookie and the CSRF token.
#[derive(Debug, Clone)]
pub struct Session {
    /// The session token (the cookie's value).
    pub token: String,
    /// The CSRF token from the login answer.
    pub csrf: String,
    /// The user's id.
    pub user_id: String,
}

impl Session {
    /// Reads the session from a successful login or setup answer.
    pub async fn from_response(response: reqwest::Response) -> Session {
        let cookie = response
            .headers()
            .get("set-cookie")
            .expect("a Set-Cookie header")
            .to_str()
            .expect("an ASCII cookie")
            .to_owned();
        let token = cookie
            .split(';')
            .next()
            .and_then(|pair| pair.strip_prefix("cv_session="))
            .expect("the cv_session cookie")
            .to_owned();
        let body: serde_json::Value = response.json().await.expect("a JSON body");
        Session {
            token,
            csrf: body["csrf_token"]
                .as_str()
                .expect("a CSRF token")
                .to_owned(),
            user_id: body["user"]["id"].as_str().expect("a user id").to_owned(),
        }
    }

    /// The `Cookie` header value.
    pub fn cookie(&self) -> String {
        format!("cv_session={}", self.token)
    }

    /// A GET with the session cookie.
    pub fn get(&self, app: &TestApp, path: &str) -> reqwest::RequestBuilder {
        app.client
            .get(app.url(path))
            .header("cookie", self.cookie())
    }

    /// A POST with the session cookie and the CSRF token.
    pub fn post(&self, app: &TestApp, path: &str) -> reqwest::RequestBuilder {
        app.client
            .post(app.url(path))
            .header("cookie", self.cookie())
            .header("x-csrf-token", &self.csrf)
    }

    /// A DELETE with the session cookie and the CSRF token.
    pub fn delete(&self, app: &TestApp, path: &str) -> reqwest::RequestBuilder {
        app.client
            .delete(app.url(path))
            .header("cookie", self.cookie())
            .header("x-csrf-token", &self.csrf)
    }
}

/// `POST /api/v1/auth/login` with these credentials.
pub async fn try_login(app: &TestApp, email: &str, password: &str) -> reqwest::Response {
    app.post_json(
        "/api/v1/auth/login",
        &serde_json::json!({ "email": email, "password": password }),
    )
    .await
}

/// Signs in (asserting success) and returns the session.
pub async fn login(app: &TestApp, email: &str, password: &str) -> Session {
    let response = try_login(app, email, password).await;
    assert_eq!(response.status(), 200, "login of {email} succeeds");
    Session::from_response(response).await
}
