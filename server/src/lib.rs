//! casevault server library.
pub mod config;
