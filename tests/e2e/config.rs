//! Configuration errors name the setting at fault, from the command line and at start-up.

use std::os::unix::fs::PermissionsExt;

use casevault_server::cli::{Cli, run};
use casevault_server::{Server, Settings};
use casevault_tests::{spawn_app, test_settings};
use clap::Parser;

/// Runs `casevault config check [--config FILE]` in-process with `env`.
fn config_check(file: Option<&std::path::Path>, env: &[(&str, &str)]) -> Result<(), String> {
    let mut args = vec!["casevault".to_owned(), "config".into(), "check".into()];
    if let Some(file) = file {
        args.push("--config".into());
        args.push(file.display().to_string());
    }
    let cli = Cli::try_parse_from(args).expect("valid command line");
    let env = env
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    run(cli, env)
}

#[test]
fn config_check_names_the_bad_setting() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().display().to_string();
    let err = config_check(
        None,
        &[
            ("CASEVAULT__DATA_DIR", &data),
            ("CASEVAULT__HTTP__PORT", "eighty"),
        ],
    )
    .expect_err("bad port");
    assert!(err.starts_with("invalid setting http.port: "), "{err}");

    let file = dir.path().join("casevault.toml");
    std::fs::write(
        &file,
        format!("data_dir = {data:?}\n[http]\nbind = \"localhost:1\"\n"),
    )
    .expect("write config");
    let err = config_check(Some(&file), &[]).expect_err("bad bind address");
    assert!(err.starts_with("invalid setting http.bind: "), "{err}");

    std::fs::write(
        &file,
        format!("data_dir = {data:?}\n[storage.s3]\nbukket = \"x\"\n"),
    )
    .expect("write config");
    let err = config_check(Some(&file), &[]).expect_err("unknown key");
    assert!(
        err.contains("storage.s3") && err.contains("bukket"),
        "{err}"
    );

    let secret = dir.path().join("s3.secret");
    std::fs::write(&secret, "s3cr3t").expect("write secret");
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let secret = secret.display().to_string();
    let err = config_check(
        None,
        &[
            ("CASEVAULT__DATA_DIR", &data),
            ("CASEVAULT__STORAGE__S3__SECRET_ACCESS_KEY_FILE", &secret),
        ],
    )
    .expect_err("world-readable secret");
    assert!(
        err.starts_with("invalid setting storage.s3.secret_access_key_file: "),
        "{err}"
    );

    config_check(None, &[("CASEVAULT__DATA_DIR", &data)]).expect("valid settings");
}

#[test]
fn config_check_report_redacts_secrets() {
    let env = [
        (
            "CASEVAULT__SECURITY__MASTER_KEY".to_owned(),
            "very-secret-key".to_owned(),
        ),
        (
            "CASEVAULT__DATA_DIR".to_owned(),
            "/nonexistent/data".to_owned(),
        ),
    ];
    let settings = Settings::load(None, env).expect("valid settings");
    let report = casevault_server::cli::check_report(&settings).expect("report");
    assert!(!report.contains("very-secret-key"), "{report}");
    assert!(report.contains("master_key = \"[redacted]\""), "{report}");
}

#[tokio::test(flavor = "multi_thread")]
async fn start_up_errors_name_the_cause() {
    let dir = tempfile::tempdir().expect("tempdir");
    let garbage = dir.path().join("cert.pem");
    std::fs::write(&garbage, "not a certificate").expect("write");
    let settings = test_settings(dir.path(), |s| {
        s.http.tls_cert = Some(garbage.clone());
        s.http.tls_key = Some(garbage.clone());
    });
    let err = Server::build(settings)
        .await
        .err()
        .expect("bad certificate");
    assert!(err.to_string().contains("cert.pem"), "{err}");

    let running = spawn_app().await;
    let settings = test_settings(dir.path(), |s| s.http.port = running.port);
    let err = Server::build(settings).await.err().expect("port in use");
    assert!(err.to_string().contains("http.port"), "{err}");
}
