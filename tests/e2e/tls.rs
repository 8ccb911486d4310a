//! TLS: protocol versions, cipher suites, ALPN, certificate trust and reuse.

use std::process::Command;

use casevault_tests::{client_builder, spawn_app, spawn_app_in, tls_config_trusting};
use rustls::version::{TLS12, TLS13};
use rustls::{CipherSuite, ProtocolVersion};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test(flavor = "multi_thread")]
async fn tls12_and_tls13_are_accepted() {
    let app = spawn_app().await;
    for (version, expected) in [
        (&TLS12, ProtocolVersion::TLSv1_2),
        (&TLS13, ProtocolVersion::TLSv1_3),
    ] {
        let config = app.tls_config(&[version], &[b"http/1.1"]);
        let mut tls = app.tls_connect(config).await.expect("handshake");
        let (_, session) = tls.get_ref();
        assert_eq!(session.protocol_version(), Some(expected));
        let suite = session.negotiated_cipher_suite().expect("suite").suite();
        let name = format!("{suite:?}");
        assert!(name.contains("GCM") || name.contains("CHACHA20"), "{name}");
        if expected == ProtocolVersion::TLSv1_2 {
            assert!(name.starts_with("TLS_ECDHE_ECDSA_"), "{name}");
        }
        tls.write_all(
            b"GET /api/v1/health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
        )
        .await
        .expect("send request");
        let mut response = String::new();
        tls.read_to_string(&mut response).await.ok();
        assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
    }
}

#[test]
fn the_server_offers_exactly_tls12_and_tls13() {
    let versions: Vec<ProtocolVersion> = casevault_server::tls::PROTOCOL_VERSIONS
        .iter()
        .map(|v| v.version)
        .collect();
    assert_eq!(
        versions,
        [ProtocolVersion::TLSv1_3, ProtocolVersion::TLSv1_2]
    );
    let provider = casevault_server::tls::provider();
    assert!(
        !provider
            .cipher_suites
            .iter()
            .any(|s| s.suite() == CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn alpn_selects_the_protocol() {
    let app = spawn_app().await;
    for (offer, chosen) in [
        (&[b"h2".as_slice(), b"http/1.1"][..], b"h2".as_slice()),
        (&[b"http/1.1".as_slice()][..], b"http/1.1".as_slice()),
    ] {
        let tls = app
            .tls_connect(app.tls_config(&[&TLS13], offer))
            .await
            .expect("handshake");
        assert_eq!(tls.get_ref().1.alpn_protocol(), Some(chosen));
    }
}

/// Runs `openssl s_client` against the app; `None` when openssl is not installed.
fn openssl(port: u16, args: &[&str]) -> Option<(bool, String)> {
    let connect = format!("127.0.0.1:{port}");
    let output = Command::new("openssl")
        .args(["s_client", "-connect", &connect, "-servername", "localhost"])
        .args(args)
        .stdin(std::process::Stdio::null())
        .output();
    match output {
        Ok(output) => {
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
            Some((output.status.success(), text))
        }
        Err(_) => {
            eprintln!("note: openssl not found; skipping the openssl s_client checks");
            None
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn old_protocols_weak_suites_and_p521_are_refused() {
    let app = spawn_app().await;
    let port = app.port;
    let checks = tokio::task::spawn_blocking(move || {
        let low = "DEFAULT@SECLEVEL=0";
        let refused = [
            vec!["-tls1", "-cipher", low],
            vec!["-tls1_1", "-cipher", low],
            vec!["-tls1_2", "-cipher", "AES128-SHA:AES256-SHA256"],
            vec![
                "-tls1_2",
                "-cipher",
                "ECDHE-RSA-AES128-SHA:ECDHE-ECDSA-AES128-SHA",
            ],
            vec!["-curves", "secp521r1"],
        ];
        let mut results = Vec::new();
        for args in refused {
            let (ok, text) = openssl(port, &args)?;
            results.push((args.join(" "), ok, text));
        }
        let accepted = openssl(port, &["-tls1_2"])?;
        Some((results, accepted))
    })
    .await
    .expect("openssl checks");
    let Some((refused, (ok, text))) = checks else {
        return;
    };
    for (args, ok, text) in refused {
        assert!(!ok, "openssl s_client {args} connected:\n{text}");
        assert!(!text.contains("BEGIN CERTIFICATE"), "{args}:\n{text}");
    }
    assert!(ok, "openssl s_client -tls1_2 failed:\n{text}");
    assert!(
        text.contains("Protocol  : TLSv1.2") || text.contains("TLSv1.2"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn clients_that_do_not_trust_the_certificate_fail() {
    let app = spawn_app().await;
    let other = spawn_app().await;
    let stranger = client_builder(&other.cert_pem).build().expect("client");
    let err = stranger
        .get(app.url("/api/v1/health"))
        .send()
        .await
        .expect_err("untrusted certificate");
    assert!(err.is_connect(), "{err:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_self_signed_certificate_is_generated_once_and_reused() {
    let app = spawn_app().await;
    let fingerprint = app.fingerprint.clone();
    let key = app.data_path("tls/self-signed.key");
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(&key).expect("key file").permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);

    // The certificate names 127.0.0.1 too.
    let config = tls_config_trusting(&[&app.cert_pem], &[&TLS13], &[b"http/1.1"]);
    let tcp = tokio::net::TcpStream::connect(app.socket_addr())
        .await
        .expect("connect");
    let name = rustls_pki_types::ServerName::try_from("127.0.0.1").expect("IP name");
    tokio_rustls::TlsConnector::from(std::sync::Arc::new(config))
        .connect(name, tcp)
        .await
        .expect("certificate valid for 127.0.0.1");

    let data_dir = app.stop().await;
    let again = spawn_app_in(data_dir, |_| {}).await;
    assert_eq!(again.fingerprint, fingerprint);
    let response = again.get("/api/v1/health").await;
    assert_eq!(response.status(), 200);
}
