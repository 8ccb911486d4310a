//! End-to-end tests: the real server, started in-process on a free port, reached over real
//! TLS by clients that trust only its certificate. Helpers live in `casevault_tests`.

mod admin;
mod auth;
mod config;
mod errors;
mod headers;
mod health;
mod limits;
mod mail;
mod openapi;
mod redirect;
mod shutdown;
mod tls;
mod tls_reload;
