//! API handlers, one action per file, grouped by resource.

pub mod auth;
pub mod cases;
pub mod colleagues;
pub mod download;
pub mod files;
pub mod folders;
pub mod grants;
pub mod health;
pub mod links;
pub mod orgs;
pub mod preferences;
pub mod quota;
pub mod setup;
pub mod tokens;
pub mod uploads;
pub mod zip;

use std::str::FromStr;

use serde::{Deserialize, Deserializer};

use crate::error::ApiError;

/// Parses an id from a path or a form: 404 when it is not one, as for an unknown id.
pub fn parse_id<T: FromStr>(text: &str) -> Result<T, ApiError> {
    text.parse().map_err(|_| ApiError::NotFound)
}

/// Parses an optional id given in a form or query: 400 naming the field when malformed.
pub fn parse_optional_id<T: FromStr>(
    field: &str,
    text: Option<&str>,
) -> Result<Option<T>, ApiError> {
    text.map(|text| {
        text.parse()
            .map_err(|_| ApiError::BadRequest(format!("The {field} is not a valid id.")))
    })
    .transpose()
}

/// For a field where absent (keep), `null` (clear) and a value (set) differ: use with
/// `#[serde(default, deserialize_with = "double_option")]` on an `Option<Option<T>>`.
pub fn double_option<'de, T, D>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    T: Deserialize<'de>,
    D: Deserializer<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}
