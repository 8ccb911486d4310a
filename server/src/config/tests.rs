//! Unit tests of the settings: layering, environment overrides, secrets and error messages.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{ConfigError, Settings, SmtpTls, StorageBackend};

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// Writes `text` to a file in `dir` with `mode` and returns its path.
fn write(dir: &Path, name: &str, text: &str, mode: u32) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write test file");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).expect("chmod");
    path
}

/// Loads settings from a TOML text (in a fresh directory, also used as data_dir) and env.
fn load(toml_text: &str, pairs: &[(&str, &str)]) -> Result<Settings, ConfigError> {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = format!(
        "data_dir = {:?}\n{toml_text}",
        dir.path().display().to_string()
    );
    let file = write(dir.path(), "casevault.toml", &text, 0o600);
    Settings::load(Some(&file), env(pairs))
}

fn error_text(result: Result<Settings, ConfigError>) -> String {
    match result {
        Ok(settings) => panic!("expected an error, got {settings:?}"),
        Err(err) => err.to_string(),
    }
}

#[test]
fn defaults_without_file_or_env() {
    let settings = Settings::load(None, env(&[])).expect("defaults are valid");
    assert_eq!(settings.data_dir, PathBuf::from("./casevault-data"));
    assert_eq!(settings.http.port, 8443);
    assert_eq!(settings.http.bind.to_string(), "0.0.0.0");
    assert_eq!(settings.public_url(8443), "https://localhost:8443");
    assert_eq!(
        settings.http.timeouts.tls_handshake,
        Duration::from_secs(10)
    );
    assert_eq!(settings.http.timeouts.header_read, Duration::from_secs(10));
    assert_eq!(settings.http.timeouts.idle, Duration::from_secs(60));
    assert_eq!(settings.http.limits.max_header_size, 16 * 1024);
    assert_eq!(settings.http.limits.max_connections, 1024);
    assert_eq!(settings.http.limits.h2_max_concurrent_streams, 64);
    assert_eq!(settings.storage.backend, StorageBackend::Local);
    assert!(settings.smtp.is_none());
    assert_eq!(
        settings.master_key_file(),
        PathBuf::from("./casevault-data/master.key")
    );
}

#[test]
fn file_overrides_defaults_and_env_overrides_file() {
    let toml = "[http]\nport = 9000\nredirect_port = 8080\n[http.timeouts]\nidle = \"90s\"\n";
    let settings = load(toml, &[]).expect("valid");
    assert_eq!(settings.http.port, 9000);
    assert_eq!(settings.http.redirect_port, Some(8080));
    assert_eq!(settings.http.timeouts.idle, Duration::from_secs(90));
    assert_eq!(settings.http.timeouts.header_read, Duration::from_secs(10));

    let settings = load(
        toml,
        &[
            ("CASEVAULT__HTTP__PORT", "9443"),
            ("CASEVAULT__HTTP__TIMEOUTS__IDLE", "500ms"),
            ("CASEVAULT__LOG__FILTER", "debug"),
            ("CASEVAULT_TEST_S3_BUCKET", "not a setting"),
            ("PATH", "/usr/bin"),
        ],
    )
    .expect("valid");
    assert_eq!(settings.http.port, 9443);
    assert_eq!(settings.http.redirect_port, Some(8080));
    assert_eq!(settings.http.timeouts.idle, Duration::from_millis(500));
    assert_eq!(settings.log.filter, "debug");
}

#[test]
fn env_creates_nested_sections_and_parses_types() {
    let dir = tempfile::tempdir().expect("tempdir");
    let secret = write(dir.path(), "s3.secret", "s3cr3t\n", 0o600);
    let secret = secret.display().to_string();
    let settings = load(
        "",
        &[
            ("CASEVAULT__STORAGE__BACKEND", "s3"),
            ("CASEVAULT__STORAGE__S3__BUCKET", "x"),
            ("CASEVAULT__STORAGE__S3__ENDPOINT", "http://127.0.0.1:3900"),
            ("CASEVAULT__STORAGE__S3__ALLOW_HTTP", "true"),
            ("CASEVAULT__STORAGE__S3__ACCESS_KEY_ID", "GK123"),
            ("CASEVAULT__STORAGE__S3__SECRET_ACCESS_KEY_FILE", &secret),
            ("CASEVAULT__SMTP__HOST", "mail.example.org"),
            ("CASEVAULT__SMTP__FROM", "casevault <noreply@example.org>"),
            ("CASEVAULT__SMTP__TLS", "tls"),
            ("CASEVAULT__SMTP__PORT", "465"),
            ("CASEVAULT__SECURITY__MASTER_KEY", "from-env"),
        ],
    )
    .expect("valid");
    assert_eq!(settings.storage.backend, StorageBackend::S3);
    let s3 = settings.storage.s3.as_ref().expect("s3 section");
    assert_eq!(s3.bucket, "x");
    assert!(s3.allow_http);
    assert!(!s3.virtual_hosted_style);
    assert_eq!(s3.region, "us-east-1");
    let key = s3
        .secret_access_key
        .as_ref()
        .expect("secret read from file");
    assert_eq!(key.expose(), "s3cr3t");
    let smtp = settings.smtp.as_ref().expect("smtp section");
    assert_eq!((smtp.port, smtp.tls), (465, SmtpTls::Tls));
    let master = settings.security.master_key.as_ref().expect("master key");
    assert_eq!(master.expose(), "from-env");
}

#[test]
fn wrong_types_name_the_setting() {
    let err = error_text(load("", &[("CASEVAULT__HTTP__PORT", "https")]));
    assert!(err.starts_with("invalid setting http.port: "), "{err}");
    assert!(err.contains("\"https\""), "{err}");

    let err = error_text(load("[http]\nport = 70000\n", &[]));
    assert!(err.starts_with("invalid setting http.port: "), "{err}");

    let err = error_text(load("[http.timeouts]\nidle = \"soon\"\n", &[]));
    assert!(
        err.starts_with("invalid setting http.timeouts.idle: "),
        "{err}"
    );

    let err = error_text(load("[storage]\nbackend = \"ftp\"\n", &[]));
    assert!(
        err.starts_with("invalid setting storage.backend: "),
        "{err}"
    );

    let err = error_text(load(
        "",
        &[("CASEVAULT__HTTP__LIMITS__MAX_CONNECTIONS", "0")],
    ));
    assert!(
        err.starts_with("invalid setting http.limits.max_connections: "),
        "{err}"
    );
}

#[test]
fn unknown_keys_are_rejected() {
    let err = error_text(load("[http]\nprot = 1\n", &[]));
    assert!(err.starts_with("invalid setting http"), "{err}");
    assert!(err.contains("unknown field `prot`"), "{err}");

    let err = error_text(load("", &[("CASEVAULT__HTTP__TIMEOUT__IDLE", "5s")]));
    assert!(err.contains("unknown field `timeout`"), "{err}");

    let err = error_text(load("colour = \"blue\"\n", &[]));
    assert!(err.contains("unknown field `colour`"), "{err}");
}

#[test]
fn master_key_only_from_env() {
    let err = error_text(load("[security]\nmaster_key = \"abc\"\n", &[]));
    assert!(
        err.starts_with("invalid setting security.master_key: "),
        "{err}"
    );
    assert!(err.contains("environment"), "{err}");
}

#[test]
fn secret_files_readable_by_others_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    for mode in [0o644, 0o640, 0o604, 0o660] {
        let path = write(dir.path(), "password", "pw", mode);
        let toml = format!(
            "[smtp]\nhost = \"h\"\nfrom = \"f@example.org\"\npassword_file = {:?}\n",
            path.display().to_string()
        );
        let err = error_text(load(&toml, &[]));
        assert!(
            err.starts_with("invalid setting smtp.password_file: "),
            "{err}"
        );
        assert!(err.contains(&format!("mode {mode:04o}")), "{err}");
    }
    let path = write(dir.path(), "password", "pw\n", 0o400);
    let toml = format!(
        "[smtp]\nhost = \"h\"\nfrom = \"f@example.org\"\nusername = \"u\"\npassword_file = {:?}\n",
        path.display().to_string()
    );
    let settings = load(&toml, &[]).expect("0400 is private");
    let smtp = settings.smtp.expect("smtp");
    assert_eq!(smtp.password.expect("password").expose(), "pw");
}

#[test]
fn master_key_file_must_be_private() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write(dir.path(), "master.key", "key", 0o644);
    let toml = format!(
        "[security]\nmaster_key_file = {:?}\n",
        path.display().to_string()
    );
    let err = error_text(load(&toml, &[]));
    assert!(
        err.starts_with("invalid setting security.master_key_file: "),
        "{err}"
    );
}

#[test]
fn secret_and_secret_file_together_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write(dir.path(), "pw", "pw", 0o600);
    let toml = format!(
        "[smtp]\nhost = \"h\"\nfrom = \"f\"\npassword = \"x\"\npassword_file = {:?}\n",
        path.display().to_string()
    );
    let err = error_text(load(&toml, &[]));
    assert!(err.starts_with("invalid setting smtp.password: "), "{err}");
}

#[test]
fn cross_field_checks() {
    let err = error_text(load("[storage]\nbackend = \"s3\"\n", &[]));
    assert!(err.starts_with("invalid setting storage.s3: "), "{err}");

    let err = error_text(load(
        "[storage]\nbackend = \"s3\"\n[storage.s3]\nregion = \"garage\"\n",
        &[],
    ));
    assert!(
        err.starts_with("invalid setting storage.s3.bucket: "),
        "{err}"
    );

    let toml = "[storage.s3]\nbucket = \"b\"\nendpoint = \"http://127.0.0.1:3900\"\n";
    let err = error_text(load(toml, &[]));
    assert!(
        err.starts_with("invalid setting storage.s3.endpoint: "),
        "{err}"
    );

    let err = error_text(load("[http]\ntls_cert = \"/nonexistent.pem\"\n", &[]));
    assert!(err.starts_with("invalid setting http.tls_key: "), "{err}");

    let err = error_text(load(
        "[http]\npublic_url = \"http://files.example.org\"\n",
        &[],
    ));
    assert!(
        err.starts_with("invalid setting http.public_url: "),
        "{err}"
    );

    let err = error_text(load("[log]\nfilter = \"info,[\"\n", &[]));
    assert!(err.starts_with("invalid setting log.filter: "), "{err}");

    let settings =
        load("[http]\npublic_url = \"https://files.example.org/\"\n", &[]).expect("valid");
    assert_eq!(settings.public_url(1), "https://files.example.org");
}

#[test]
fn file_errors_name_the_file() {
    let err = Settings::load(Some(Path::new("/nonexistent/casevault.toml")), env(&[]))
        .expect_err("missing file");
    assert!(
        err.to_string().contains("/nonexistent/casevault.toml"),
        "{err}"
    );
    let err = error_text(load("[http\n", &[]));
    assert!(err.contains("not valid TOML"), "{err}");
}

#[test]
fn secrets_are_redacted() {
    let settings = load(
        "[smtp]\nhost = \"h\"\nfrom = \"f@example.org\"\nusername = \"u\"\npassword = \"hunter2\"\n",
        &[("CASEVAULT__SECURITY__MASTER_KEY", "topsecret")],
    )
    .expect("valid");
    let debug = format!("{settings:?}");
    let toml = settings.to_redacted_toml().expect("serializes");
    for shown in [&debug, &toml] {
        assert!(
            !shown.contains("hunter2") && !shown.contains("topsecret"),
            "{shown}"
        );
        assert!(shown.contains("[redacted]"), "{shown}");
    }
    // The printed settings are themselves a valid configuration (minus the redactions).
    assert!(
        toml.contains("[http.timeouts]") && toml.contains("idle = \"1m\""),
        "{toml}"
    );
}

#[test]
fn smtp_defaults_and_checks() {
    let settings =
        load("[smtp]\nhost = \"h\"\nfrom = \"cv <f@example.org>\"\n", &[]).expect("valid");
    let smtp = settings.smtp.expect("smtp");
    assert_eq!((smtp.port, smtp.tls), (587, SmtpTls::Starttls));
    assert_eq!(smtp.timeout, Duration::from_secs(30));
    assert_eq!(smtp.retry_initial, Duration::from_secs(30));
    assert_eq!(smtp.retry_max, Duration::from_secs(3600));
    assert_eq!(smtp.give_up_after, Duration::from_secs(2 * 24 * 3600));
    let settings = load(
        "[smtp]\nhost = \"h\"\nfrom = \"f@example.org\"\nretry_initial = \"2s\"\nretry_max = \"1m\"\ngive_up_after = \"3days\"\n",
        &[],
    )
    .expect("valid");
    let smtp = settings.smtp.expect("smtp");
    assert_eq!(smtp.retry_initial, Duration::from_secs(2));
    assert_eq!(smtp.give_up_after, Duration::from_secs(3 * 24 * 3600));

    for (toml, setting) in [
        ("from = \"not an address\"", "smtp.from"),
        (
            "from = \"f@example.org\"\nusername = \"u\"",
            "smtp.password",
        ),
        (
            "from = \"f@example.org\"\npassword = \"p\"",
            "smtp.username",
        ),
        (
            "from = \"f@example.org\"\ntimeout = \"10ms\"",
            "smtp.timeout",
        ),
        (
            "from = \"f@example.org\"\nretry_initial = \"1m\"\nretry_max = \"30s\"",
            "smtp.retry_max",
        ),
    ] {
        let err = error_text(load(&format!("[smtp]\nhost = \"h\"\n{toml}\n"), &[]));
        assert!(
            err.starts_with(&format!("invalid setting {setting}: ")),
            "{err}"
        );
    }
}
