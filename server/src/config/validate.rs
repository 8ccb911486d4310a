//! Checks that need more than a type: value ranges, settings that go together, URLs, and the
//! loading of `*_file` secrets.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::secret::{check_private, read_secret_file};
use super::{ConfigError, Secret, Settings, StorageBackend};

/// Validates `settings` and fills secrets from their `*_file` settings.
pub(super) fn finish(settings: &mut Settings) -> Result<(), ConfigError> {
    http(settings)?;
    storage(settings)?;
    security(settings)?;
    smtp(settings)?;
    shares(settings)?;
    tracing_subscriber::EnvFilter::try_new(&settings.log.filter)
        .map_err(|err| ConfigError::invalid("log.filter", err.to_string()))?;
    Ok(())
}

fn shares(settings: &Settings) -> Result<(), ConfigError> {
    let shares = &settings.shares;
    let hour = std::time::Duration::from_secs(3600);
    if shares.max_expiry < hour {
        return Err(ConfigError::invalid(
            "shares.max_expiry",
            "must be at least 1h",
        ));
    }
    if shares.default_expiry < hour || shares.default_expiry > shares.max_expiry {
        return Err(ConfigError::invalid(
            "shares.default_expiry",
            "must be at least 1h and at most shares.max_expiry",
        ));
    }
    if shares.lock_after == 0 {
        return Err(ConfigError::invalid(
            "shares.lock_after",
            "must be at least 1",
        ));
    }
    Ok(())
}

fn http(settings: &mut Settings) -> Result<(), ConfigError> {
    let http = &mut settings.http;
    if let Some(url) = &http.public_url {
        http.public_url =
            Some(public_url(url).map_err(|m| ConfigError::invalid("http.public_url", m))?);
    }
    if http.redirect_port.is_some_and(|p| p != 0 && p == http.port) {
        return Err(ConfigError::invalid(
            "http.redirect_port",
            "must differ from http.port",
        ));
    }
    match (&http.tls_cert, &http.tls_key) {
        (Some(cert), Some(key)) => {
            readable(cert, "http.tls_cert")?;
            readable(key, "http.tls_key")?;
        }
        (Some(_), None) => {
            return Err(ConfigError::invalid(
                "http.tls_key",
                "required with http.tls_cert",
            ));
        }
        (None, Some(_)) => {
            return Err(ConfigError::invalid(
                "http.tls_cert",
                "required with http.tls_key",
            ));
        }
        (None, None) => {}
    }
    at_least(
        http.tls_reload_interval,
        Duration::from_secs(1),
        "http.tls_reload_interval",
    )?;
    let t = &http.timeouts;
    at_least(
        t.tls_handshake,
        Duration::from_millis(100),
        "http.timeouts.tls_handshake",
    )?;
    at_least(
        t.header_read,
        Duration::from_millis(100),
        "http.timeouts.header_read",
    )?;
    at_least(t.idle, Duration::from_millis(100), "http.timeouts.idle")?;
    let l = &http.limits;
    if !(1024..=1024 * 1024).contains(&l.max_header_size) {
        return Err(ConfigError::invalid(
            "http.limits.max_header_size",
            "must be between 1024 and 1048576 bytes",
        ));
    }
    if !(1..=1_000_000).contains(&l.max_connections) {
        return Err(ConfigError::invalid(
            "http.limits.max_connections",
            "must be between 1 and 1000000",
        ));
    }
    if l.h2_max_concurrent_streams == 0 {
        return Err(ConfigError::invalid(
            "http.limits.h2_max_concurrent_streams",
            "must be at least 1",
        ));
    }
    at_least(
        l.min_transfer_window,
        Duration::from_millis(100),
        "http.limits.min_transfer_window",
    )?;
    Ok(())
}

/// Checks a public base URL: `https://host[:port]`, nothing after the authority but `/`.
fn public_url(url: &str) -> Result<String, String> {
    let uri: http::Uri = url
        .parse()
        .map_err(|err| format!("{url:?} is not a URL: {err}"))?;
    if uri.scheme_str() != Some("https") {
        return Err(format!("{url:?} must start with https://"));
    }
    if uri.authority().is_none_or(|a| a.host().is_empty()) {
        return Err(format!("{url:?} has no host"));
    }
    if uri.path_and_query().is_some_and(|pq| pq.as_str() != "/") {
        return Err(format!(
            "{url:?} must not have a path or query (serving under a sub-path is not supported)"
        ));
    }
    Ok(url.trim_end_matches('/').to_owned())
}

fn storage(settings: &mut Settings) -> Result<(), ConfigError> {
    if let Some(s3) = &mut settings.storage.s3 {
        s3.secret_access_key = secret_or_file(
            s3.secret_access_key.take(),
            s3.secret_access_key_file.as_deref(),
            "storage.s3.secret_access_key",
        )?;
        if let Some(endpoint) = &s3.endpoint {
            let uri: http::Uri = endpoint.parse().map_err(|err| {
                ConfigError::invalid(
                    "storage.s3.endpoint",
                    format!("{endpoint:?} is not a URL: {err}"),
                )
            })?;
            match uri.scheme_str() {
                Some("https") => {}
                Some("http") if s3.allow_http => {}
                Some("http") => {
                    return Err(ConfigError::invalid(
                        "storage.s3.endpoint",
                        "is plain http: set storage.s3.allow_http = true to allow it",
                    ));
                }
                _ => {
                    return Err(ConfigError::invalid(
                        "storage.s3.endpoint",
                        "must start with https:// or http://",
                    ));
                }
            }
        }
    }
    if settings.storage.backend != StorageBackend::S3 {
        return Ok(());
    }
    let Some(s3) = &settings.storage.s3 else {
        return Err(ConfigError::invalid(
            "storage.s3",
            "required when storage.backend = \"s3\"",
        ));
    };
    if s3.bucket.is_empty() {
        return Err(ConfigError::invalid(
            "storage.s3.bucket",
            "required when storage.backend = \"s3\"",
        ));
    }
    if s3.access_key_id.is_empty() {
        return Err(ConfigError::invalid(
            "storage.s3.access_key_id",
            "required when storage.backend = \"s3\"",
        ));
    }
    if s3.secret_access_key.is_none() {
        return Err(ConfigError::invalid(
            "storage.s3.secret_access_key",
            "required when storage.backend = \"s3\" (or storage.s3.secret_access_key_file)",
        ));
    }
    Ok(())
}

fn security(settings: &mut Settings) -> Result<(), ConfigError> {
    if settings
        .security
        .master_key
        .as_ref()
        .is_some_and(|k| k.expose().is_empty())
    {
        return Err(ConfigError::invalid("security.master_key", "is empty"));
    }
    let path = settings.master_key_file();
    if path.exists() {
        check_private(&path).map_err(|m| ConfigError::invalid("security.master_key_file", m))?;
    } else if settings.security.master_key_file.is_some() {
        return Err(ConfigError::invalid(
            "security.master_key_file",
            format!("{} does not exist", path.display()),
        ));
    }
    Ok(())
}

fn smtp(settings: &mut Settings) -> Result<(), ConfigError> {
    let Some(smtp) = &mut settings.smtp else {
        return Ok(());
    };
    smtp.password = secret_or_file(
        smtp.password.take(),
        smtp.password_file.as_deref(),
        "smtp.password",
    )?;
    if smtp.host.is_empty() {
        return Err(ConfigError::invalid("smtp.host", "is empty"));
    }
    if smtp.from.is_empty() {
        return Err(ConfigError::invalid("smtp.from", "is empty"));
    }
    smtp.from
        .parse::<lettre::message::Mailbox>()
        .map_err(|err| {
            ConfigError::invalid(
                "smtp.from",
                format!(
                    "{:?} is not an address such as \"casevault <noreply@example.org>\": {err}",
                    smtp.from
                ),
            )
        })?;
    match (&smtp.username, &smtp.password) {
        (Some(_), None) => {
            return Err(ConfigError::invalid(
                "smtp.password",
                "required with smtp.username (or smtp.password_file)",
            ));
        }
        (None, Some(_)) => {
            return Err(ConfigError::invalid(
                "smtp.username",
                "required with smtp.password",
            ));
        }
        _ => {}
    }
    at_least(smtp.timeout, Duration::from_secs(1), "smtp.timeout")?;
    at_least(
        smtp.retry_initial,
        Duration::from_secs(1),
        "smtp.retry_initial",
    )?;
    at_least(smtp.retry_max, smtp.retry_initial, "smtp.retry_max")?;
    at_least(smtp.give_up_after, smtp.retry_initial, "smtp.give_up_after")?;
    Ok(())
}

/// The secret given directly, or read from its `*_file` setting; not both.
fn secret_or_file(
    direct: Option<Secret>,
    file: Option<&Path>,
    setting: &str,
) -> Result<Option<Secret>, ConfigError> {
    match (direct, file) {
        (Some(_), Some(_)) => Err(ConfigError::invalid(
            setting,
            format!("set either {setting} or {setting}_file, not both"),
        )),
        (None, Some(path)) => read_secret_file(path)
            .map(Some)
            .map_err(|m| ConfigError::invalid(format!("{setting}_file"), m)),
        (direct, None) => Ok(direct),
    }
}

fn readable(path: &PathBuf, setting: &str) -> Result<(), ConfigError> {
    std::fs::File::open(path).map(drop).map_err(|err| {
        ConfigError::invalid(setting, format!("cannot read {}: {err}", path.display()))
    })
}

fn at_least(value: Duration, min: Duration, setting: &str) -> Result<(), ConfigError> {
    if value < min {
        return Err(ConfigError::invalid(
            setting,
            format!("must be at least {}", humantime::format_duration(min)),
        ));
    }
    Ok(())
}
