//! Certificate reloading on a running server: on request (as SIGHUP does) and on the
//! modification-time timer; a broken replacement keeps the previous certificate.

use std::path::{Path, PathBuf};
use std::time::Duration;

use casevault_server::tls::self_signed;
use casevault_tests::{TestApp, spawn_app_with, tls_config_trusting};
use rustls::version::TLS13;

/// A new self-signed pair in `dir/name`.
fn new_pair(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    self_signed::ensure(&dir.join(name)).expect("generate a certificate")
}

/// Replaces `to` with `from`'s contents, as certificate renewal tools do (write, rename).
fn replace(from: &Path, to: &Path) {
    let tmp = to.with_extension("new");
    std::fs::copy(from, &tmp).expect("copy");
    std::fs::rename(&tmp, to).expect("rename");
}

/// The DER certificate the server presents to a new connection.
async fn presented(app: &TestApp, trusted: &[&[u8]]) -> Vec<u8> {
    let config = tls_config_trusting(trusted, &[&TLS13], &[b"http/1.1"]);
    let tls = app.tls_connect(config).await.expect("handshake");
    let certs = tls
        .get_ref()
        .1
        .peer_certificates()
        .expect("peer certificate");
    certs[0].to_vec()
}

fn der(pem_path: &Path) -> Vec<u8> {
    use rustls_pki_types::pem::PemObject;
    rustls_pki_types::CertificateDer::from_pem_file(pem_path)
        .expect("read certificate")
        .to_vec()
}

/// Starts a server on a configured (not generated) certificate pair; returns it with the
/// pair's paths and the directory holding them.
async fn app_with_configured_cert(
    interval: Duration,
) -> (TestApp, PathBuf, PathBuf, tempfile::TempDir) {
    let certs = tempfile::tempdir().expect("tempdir");
    let (cert, key) = new_pair(certs.path(), "live");
    let app = spawn_app_with(|s| {
        s.http.tls_cert = Some(cert.clone());
        s.http.tls_key = Some(key.clone());
        s.http.tls_reload_interval = interval;
    })
    .await;
    (app, cert, key, certs)
}

#[tokio::test(flavor = "multi_thread")]
async fn reload_switches_to_the_new_certificate() {
    let (app, cert, key, certs) = app_with_configured_cert(Duration::from_secs(3600)).await;
    let old_pem = std::fs::read(&cert).expect("read");
    assert_eq!(presented(&app, &[&old_pem]).await, der(&cert));

    let (new_cert, new_key) = new_pair(certs.path(), "renewed");
    let new_pem = std::fs::read(&new_cert).expect("read");
    replace(&new_key, &key);
    replace(&new_cert, &cert);
    assert!(app.resolver.reload_if_changed().expect("reload"));
    assert_ne!(app.resolver.fingerprint(), app.fingerprint);
    assert_eq!(presented(&app, &[&old_pem, &new_pem]).await, der(&new_cert));

    // A broken certificate file: the reload fails and the renewed certificate stays.
    std::fs::write(&cert, "-----BEGIN CERTIFICATE-----\nbroken\n").expect("write");
    assert!(app.resolver.reload().is_err());
    assert_eq!(presented(&app, &[&old_pem, &new_pem]).await, der(&new_cert));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_timer_picks_up_changed_files() {
    let (app, cert, key, certs) = app_with_configured_cert(Duration::from_secs(1)).await;
    let old_pem = std::fs::read(&cert).expect("read");
    let (new_cert, new_key) = new_pair(certs.path(), "renewed");
    let new_pem = std::fs::read(&new_cert).expect("read");
    replace(&new_key, &key);
    replace(&new_cert, &cert);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        if presented(&app, &[&old_pem, &new_pem]).await == der(&new_cert) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "certificate not reloaded"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
