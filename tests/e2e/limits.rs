//! Connection limits and timeouts, with small values so that the tests are quick.

use std::time::{Duration, Instant};

use casevault_tests::spawn_app_with;
use rustls::version::TLS13;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Reads until the server closes the connection; returns what was read.
async fn read_until_closed<R: AsyncReadExt + Unpin>(reader: &mut R) -> Vec<u8> {
    let mut received = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match reader.read(&mut buf).await {
            Ok(0) | Err(_) => return received,
            Ok(n) => received.extend_from_slice(&buf[..n]),
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn slow_headers_are_cut_off_after_the_header_timeout() {
    let app = spawn_app_with(|s| s.http.timeouts.header_read = Duration::from_secs(1)).await;
    let tls = app
        .tls_connect(app.tls_config(&[&TLS13], &[b"http/1.1"]))
        .await
        .expect("handshake");
    let (mut reader, mut writer) = tokio::io::split(tls);
    let start = Instant::now();
    let request = b"GET /api/v1/health HTTP/1.1\r\nHost: localhost\r\nX-Slow: 1\r\n\r\n";
    let trickle = tokio::spawn(async move {
        let mut sent = 0;
        for byte in request {
            if writer.write_all(&[*byte]).await.is_err() || writer.flush().await.is_err() {
                break;
            }
            sent += 1;
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        sent
    });
    let received = tokio::time::timeout(Duration::from_secs(10), read_until_closed(&mut reader))
        .await
        .expect("the server closes the connection");
    let elapsed = start.elapsed();
    assert!(
        elapsed >= Duration::from_millis(900),
        "closed too early: {elapsed:?}"
    );
    assert!(
        elapsed < Duration::from_secs(5),
        "closed too late: {elapsed:?}"
    );
    let text = String::from_utf8_lossy(&received);
    assert!(!text.contains("200 OK"), "{text}");
    trickle.abort();
}

#[tokio::test(flavor = "multi_thread")]
async fn silent_clients_are_dropped_after_the_tls_handshake_timeout() {
    let app = spawn_app_with(|s| s.http.timeouts.tls_handshake = Duration::from_millis(500)).await;
    let mut tcp = tokio::net::TcpStream::connect(app.socket_addr())
        .await
        .expect("connect");
    let start = Instant::now();
    let received = tokio::time::timeout(Duration::from_secs(5), read_until_closed(&mut tcp))
        .await
        .expect("the server closes a connection that never starts TLS");
    assert!(received.is_empty());
    let elapsed = start.elapsed();
    assert!(elapsed >= Duration::from_millis(400), "{elapsed:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn oversized_headers_are_refused() {
    let app = spawn_app_with(|s| s.http.limits.max_header_size = 4096).await;
    let client = app.client_for(reqwest::Version::HTTP_11);
    let response = client
        .get(app.url("/api/v1/health"))
        .header("x-filler", "a".repeat(8192))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 431);
    let response = client
        .get(app.url("/api/v1/health"))
        .header("x-filler", "a".repeat(2048))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn connections_beyond_the_limit_wait() {
    let app = spawn_app_with(|s| s.http.limits.max_connections = 2).await;
    let config = || app.tls_config(&[&TLS13], &[b"http/1.1"]);
    let first = app.tls_connect(config()).await.expect("first connection");
    let _second = app.tls_connect(config()).await.expect("second connection");

    let third = tokio::spawn({
        let config = config();
        let addr = app.socket_addr();
        async move {
            let tcp = tokio::net::TcpStream::connect(addr).await?;
            let name = rustls_pki_types::ServerName::try_from("localhost")
                .map_err(std::io::Error::other)?;
            tokio_rustls::TlsConnector::from(std::sync::Arc::new(config))
                .connect(name, tcp)
                .await
        }
    });
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(
        !third.is_finished(),
        "a third connection was served beyond the limit"
    );

    drop(first);
    let mut third = tokio::time::timeout(Duration::from_secs(5), third)
        .await
        .expect("the third connection is served once a slot frees")
        .expect("task")
        .expect("handshake");
    third
        .write_all(b"GET /api/v1/health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .expect("send");
    let text = String::from_utf8_lossy(&read_until_closed(&mut third).await).into_owned();
    assert!(text.starts_with("HTTP/1.1 200 OK"), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn idle_keep_alive_connections_are_closed() {
    let app = spawn_app_with(|s| s.http.timeouts.idle = Duration::from_millis(300)).await;
    let mut tls = app
        .tls_connect(app.tls_config(&[&TLS13], &[b"http/1.1"]))
        .await
        .expect("handshake");
    tls.write_all(b"GET /api/v1/health HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .expect("send");
    let start = Instant::now();
    let received = tokio::time::timeout(Duration::from_secs(5), read_until_closed(&mut tls))
        .await
        .expect("the idle connection is closed well before the 10 s header timeout");
    let text = String::from_utf8_lossy(&received);
    assert!(text.starts_with("HTTP/1.1 200 OK"), "{text}");
    assert!(
        start.elapsed() >= Duration::from_millis(250),
        "{:?}",
        start.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn idle_http2_connections_are_closed() {
    let app = spawn_app_with(|s| s.http.timeouts.idle = Duration::from_millis(300)).await;
    let tls = app
        .tls_connect(app.tls_config(&[&TLS13], &[b"h2"]))
        .await
        .expect("handshake");
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(b"h2".as_slice()));
    let (mut reader, mut writer) = tokio::io::split(tls);
    writer
        .write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00")
        .await
        .expect("send the preface and empty SETTINGS");
    let received = tokio::time::timeout(Duration::from_secs(5), read_until_closed(&mut reader))
        .await
        .expect("the idle HTTP/2 connection is closed");
    // The server's SETTINGS frame, then a GOAWAY (frame type 7) before the close.
    assert!(
        received
            .windows(4)
            .any(|w| w[3] == 7 && w[..3] == [0, 0, 8]),
        "{received:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn http2_settings_advertise_the_limits() {
    let app = spawn_app_with(|s| s.http.limits.h2_max_concurrent_streams = 7).await;
    let mut tls = app
        .tls_connect(app.tls_config(&[&TLS13], &[b"h2"]))
        .await
        .expect("handshake");
    tls.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00")
        .await
        .expect("send the preface and empty SETTINGS");
    // The server's first frame is its SETTINGS: 9-byte header, then (id: u16, value: u32)s.
    let mut header = [0u8; 9];
    tls.read_exact(&mut header).await.expect("frame header");
    assert_eq!(header[3], 4, "SETTINGS frame");
    let len = u32::from_be_bytes([0, header[0], header[1], header[2]]) as usize;
    let mut payload = vec![0u8; len];
    tls.read_exact(&mut payload).await.expect("frame payload");
    let settings: Vec<(u16, u32)> = payload
        .chunks_exact(6)
        .map(|c| {
            (
                u16::from_be_bytes([c[0], c[1]]),
                u32::from_be_bytes([c[2], c[3], c[4], c[5]]),
            )
        })
        .collect();
    let value = |id: u16| settings.iter().find(|(i, _)| *i == id).map(|(_, v)| *v);
    assert_eq!(value(3), Some(7), "MAX_CONCURRENT_STREAMS in {settings:?}");
    assert_eq!(
        value(4),
        Some(1024 * 1024),
        "INITIAL_WINDOW_SIZE in {settings:?}"
    );
    assert_eq!(
        value(6),
        Some(16 * 1024),
        "MAX_HEADER_LIST_SIZE in {settings:?}"
    );
}
