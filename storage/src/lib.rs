//! casevault storage.
