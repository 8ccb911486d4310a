//! End-to-end tests: the real server, started in-process on a free port, reached over real
//! TLS by clients that trust only its certificate. Helpers live in `casevault_tests`.

mod access_matrix;
mod admin;
mod auth;
mod bad_input;
mod browser_smoke;
mod browser_web;
mod cases;
mod config;
mod errors;
mod files;
mod grant_matrix;
mod headers;
mod health;
mod large;
mod limits;
mod mail;
mod openapi;
mod orgs;
mod privacy;
mod ranges;
mod redirect;
mod share_mail;
mod shares;
mod shutdown;
mod tls;
mod tls_reload;
mod tus;
mod web;
mod zip;
