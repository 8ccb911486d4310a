//! Tests of the key hierarchy, sealed values, password hashing, tokens and of what `Debug`
//! prints.

#![allow(clippy::unwrap_used)]

mod keyring;
mod password;
mod redaction;
mod seal;
mod token;
mod vector;
