//! argon2id password hashing.

use std::sync::Arc;

use casevault_crypto::{Argon2Params, CryptoError, PasswordHash, PasswordHasher};

const SMALL: Argon2Params = Argon2Params {
    m_kib: 256,
    t: 1,
    p: 1,
};

#[tokio::test]
async fn hash_and_verify() {
    let hasher = PasswordHasher::new(SMALL, 2);
    let hash = hasher.hash("correct horse").await.unwrap();
    assert!(hash.as_str().starts_with("$argon2id$v=19$m=256,t=1,p=1$"));
    assert!(hasher.verify("correct horse", Some(&hash)).await.unwrap());
    assert!(!hasher.verify("correct horsE", Some(&hash)).await.unwrap());
    assert!(!hasher.verify("", Some(&hash)).await.unwrap());
    assert_ne!(
        hasher.hash("correct horse").await.unwrap(),
        hash,
        "fresh salt"
    );
}

#[tokio::test]
async fn unknown_account_verifies_false() {
    let hasher = PasswordHasher::new(SMALL, 1);
    assert!(!hasher.verify("anything", None).await.unwrap());
    assert!(!hasher.verify("", None).await.unwrap());
    // It still ran a hash with the same parameters.
    assert_eq!(hasher.peak_in_flight(), 1);
}

#[tokio::test]
async fn default_parameters_are_owasp() {
    let hasher = PasswordHasher::new(Argon2Params::default(), 1);
    let hash = hasher.hash("hunter2").await.unwrap();
    assert!(
        hash.as_str().starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{}",
        hash.as_str()
    );
    assert!(hasher.verify("hunter2", Some(&hash)).await.unwrap());
    assert!(!hasher.needs_rehash(&hash));
}

#[tokio::test]
async fn long_passwords_are_rejected() {
    let hasher = PasswordHasher::new(SMALL, 1);
    let long = "x".repeat(1025);
    assert!(matches!(
        hasher.hash(&long).await,
        Err(CryptoError::InvalidInput(_))
    ));
    assert!(matches!(
        hasher.verify(&long, None).await,
        Err(CryptoError::InvalidInput(_))
    ));
    assert_eq!(hasher.peak_in_flight(), 0, "rejected before hashing");
    assert!(hasher.hash(&"x".repeat(1024)).await.is_ok());
}

#[tokio::test]
async fn needs_rehash_when_weaker() {
    let weak = PasswordHasher::new(SMALL, 1).hash("pw").await.unwrap();
    let same = PasswordHasher::new(SMALL, 1);
    assert!(!same.needs_rehash(&weak));
    assert!(
        PasswordHasher::new(
            Argon2Params {
                m_kib: 512,
                ..SMALL
            },
            1
        )
        .needs_rehash(&weak)
    );
    assert!(PasswordHasher::new(Argon2Params { t: 2, ..SMALL }, 1).needs_rehash(&weak));
    assert!(
        !PasswordHasher::new(
            Argon2Params {
                m_kib: 128,
                ..SMALL
            },
            1
        )
        .needs_rehash(&weak)
    );
}

#[test]
fn phc_strings_are_validated() {
    let good =
        "$argon2id$v=19$m=256,t=1,p=1$c2FsdHNhbHRzYWx0$4KjdtyQcUQUfRqYKsVpPIw8qb1KPKb8Ve5DTrNLZaaA";
    assert_eq!(PasswordHash::from_phc(good.into()).unwrap().as_str(), good);
    for bad in [
        "",
        "plaintext",
        "$argon2i$v=19$m=256,t=1,p=1$c2FsdHNhbHQ$4KjdtyQcUQUfRqYKsVpPIw",
        "$argon2id$v=19$m=1,t=1,p=1$c2FsdHNhbHQ$4KjdtyQcUQUfRqYKsVpPIw",
        "$argon2id$v=19$m=4294967295,t=1,p=1$c2FsdHNhbHQ$4KjdtyQcUQUfRqYKsVpPIw",
    ] {
        assert!(
            matches!(
                PasswordHash::from_phc(bad.into()),
                Err(CryptoError::PasswordHash(_))
            ),
            "{bad}"
        );
    }
    assert_eq!(
        format!("{:?}", PasswordHash::from_phc(good.into()).unwrap()),
        "PasswordHash(..)"
    );
}

#[tokio::test]
async fn corrupt_stored_hash_is_an_error_not_a_match() {
    let hasher = PasswordHasher::new(SMALL, 1);
    let hash = hasher.hash("pw").await.unwrap();
    let mut phc = hash.as_str().to_string();
    phc.pop();
    phc.push(if hash.as_str().ends_with('A') {
        'B'
    } else {
        'A'
    });
    let altered = PasswordHash::from_phc(phc).unwrap();
    assert!(!hasher.verify("pw", Some(&altered)).await.unwrap());
}

/// With a bound of 1, hashes never overlap; with a bound of 2, at most two do. Counted by
/// the hasher's own in-flight counter, not by timing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrency_is_bounded() {
    for bound in [1usize, 2] {
        let hasher = Arc::new(PasswordHasher::new(
            Argon2Params {
                m_kib: 2048,
                t: 1,
                p: 1,
            },
            bound,
        ));
        let tasks: Vec<_> = (0..6)
            .map(|i| {
                let hasher = Arc::clone(&hasher);
                tokio::spawn(async move {
                    if i % 2 == 0 {
                        hasher.hash("pw").await.map(|_| ())
                    } else {
                        hasher.verify("pw", None).await.map(|_| ())
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap().unwrap();
        }
        assert!(hasher.peak_in_flight() >= 1);
        assert!(
            hasher.peak_in_flight() <= bound,
            "peak {} > {bound}",
            hasher.peak_in_flight()
        );
        assert_eq!(hasher.in_flight(), 0);
    }
}
