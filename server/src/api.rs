//! API handlers, one action per file, grouped by resource.

pub mod health;
