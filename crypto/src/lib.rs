//! casevault cryptography.
