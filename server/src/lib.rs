//! The casevault HTTPS server as a library: the `casevault` binary is a thin wrapper around
//! [`cli::main`], and the end-to-end tests start a [`Server`] in-process.
//!
//! ```no_run
//! # async fn example() -> Result<(), casevault_server::StartError> {
//! use casevault_server::{Server, Settings};
//!
//! let mut settings = Settings::default();
//! settings.http.port = 0; // any free port
//! let server = Server::build(settings).await?;
//! println!("https://localhost:{} ({})", server.port(), server.certificate_path().display());
//! let handle = server.handle();
//! let running = tokio::spawn(server.run_until_stopped());
//! handle.shutdown();
//! running.await.ok();
//! # Ok(())
//! # }
//! ```

pub mod access;
pub mod admin;
pub mod api;
pub mod archive;
pub mod audit;
pub mod auth;
pub mod backend;
pub mod cli;
pub mod config;
pub mod error;
pub mod extract;
pub mod http;
pub mod links;
pub mod mail;
pub mod openapi;
pub mod pages;
pub mod routes;
pub mod server;
pub mod signals;
pub mod state;
pub mod telemetry;
pub mod tls;
pub mod transfer;
pub mod tus;

pub use config::Settings;
pub use error::ApiError;
pub use server::{Server, ServerHandle, StartError};
pub use state::{App, AppState};
