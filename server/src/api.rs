//! API handlers, one action per file, grouped by resource.

pub mod auth;
pub mod health;
pub mod setup;
pub mod tokens;
