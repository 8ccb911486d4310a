//! The HTTP stack below the routes: the accept loop and its connection limit, TLS handshakes,
//! HTTP/1.1 and HTTP/2 connection settings, timeouts and watchdogs, the minimum request body
//! rate, the plain-HTTP redirect listener, and the middleware applied to every response.

pub(crate) mod accept;
pub(crate) mod conn;
pub mod middleware;
pub mod min_rate;
pub(crate) mod protocol;
pub(crate) mod redirect;
pub(crate) mod watch;

use std::net::SocketAddr;

/// The client's socket address, in every request's extensions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub SocketAddr);
