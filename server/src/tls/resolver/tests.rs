//! Unit tests of certificate reloading.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::super::{provider, self_signed};
use super::CertResolver;

/// A fresh self-signed pair in its own directory.
fn pair(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    self_signed::ensure(&dir.join(name)).expect("generate a certificate")
}

/// Replaces `to` with the contents of `from` (rename, as a certificate tool would).
fn replace(from: &Path, to: &Path) {
    let tmp = to.with_extension("new");
    fs::copy(from, &tmp).expect("copy");
    fs::rename(&tmp, to).expect("rename");
}

#[test]
fn reload_picks_up_a_new_pair() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (cert, key) = pair(dir.path(), "a");
    let (cert_b, key_b) = pair(dir.path(), "b");
    let resolver =
        CertResolver::load(cert.clone(), key.clone(), Arc::new(provider())).expect("load");
    let before = resolver.fingerprint();
    assert!(!resolver.reload_if_changed().expect("unchanged"));

    replace(&key_b, &key);
    replace(&cert_b, &cert);
    assert!(resolver.reload_if_changed().expect("reload"));
    assert_ne!(resolver.fingerprint(), before);
    let b = CertResolver::load(cert_b, key_b, Arc::new(provider())).expect("load b");
    assert_eq!(resolver.fingerprint(), b.fingerprint());
    assert_eq!(resolver.current().cert, b.current().cert);
}

#[test]
fn a_broken_pair_keeps_the_old_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (cert, key) = pair(dir.path(), "a");
    let (_, key_b) = pair(dir.path(), "b");
    let resolver =
        CertResolver::load(cert.clone(), key.clone(), Arc::new(provider())).expect("load");
    let before = resolver.fingerprint();

    // A key that does not match the certificate.
    replace(&key_b, &key);
    let err = resolver.reload_if_changed().expect_err("mismatched key");
    assert!(err.to_string().contains("self-signed.crt"), "{err}");
    assert_eq!(resolver.fingerprint(), before);
    // The failed version is not retried on every tick.
    assert!(!resolver.reload_if_changed().expect("same files"));
    // An explicit reload (SIGHUP) retries and fails again.
    assert!(resolver.reload().is_err());

    // Garbage in the certificate file.
    fs::write(&cert, "not a certificate").expect("write");
    assert!(resolver.reload().is_err());
    assert_eq!(resolver.fingerprint(), before);

    // A missing file.
    fs::remove_file(&cert).expect("remove");
    assert!(resolver.reload().is_err());
    assert_eq!(resolver.fingerprint(), before);
}

#[test]
fn fingerprint_looks_like_openssl() {
    let fp = super::fingerprint(b"casevault");
    assert_eq!(fp.len(), 32 * 3 - 1);
    assert!(
        fp.split(':')
            .all(|b| b.len() == 2 && b.chars().all(|c| c.is_ascii_hexdigit()))
    );
}
