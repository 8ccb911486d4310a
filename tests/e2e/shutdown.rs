//! Graceful shutdown: the server stops accepting and returns once its connections are done.

use std::time::Duration;

use casevault_tests::spawn_app;
use rustls::version::TLS13;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test(flavor = "multi_thread")]
async fn shutdown_closes_idle_connections_and_stops_accepting() {
    let app = spawn_app().await;
    let addr = app.socket_addr();
    let mut kept_alive = app
        .tls_connect(app.tls_config(&[&TLS13], &[b"http/1.1"]))
        .await
        .expect("handshake");
    kept_alive
        .write_all(b"GET /api/v1/health HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .expect("send");
    let mut buf = [0u8; 1024];
    let n = kept_alive.read(&mut buf).await.expect("response");
    assert!(buf[..n].starts_with(b"HTTP/1.1 200 OK"));

    tokio::time::timeout(Duration::from_secs(5), app.stop())
        .await
        .expect("the server stops well within the grace period");
    let closed = tokio::time::timeout(Duration::from_secs(2), kept_alive.read(&mut buf))
        .await
        .expect("the kept-alive connection is closed");
    assert!(matches!(closed, Ok(0) | Err(_)), "{closed:?}");
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "still accepting"
    );
}
