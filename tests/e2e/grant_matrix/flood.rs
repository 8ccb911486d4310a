//! A flood of wrong passwords against one link from one client: every answer is a refusal,
//! the link ends locked (also to its right password) until its owner unlocks it, the
//! server never hashes more passwords at once than its bound, and the case's history
//! records each wrong password checked and the lock, once.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use casevault_server::auth::{AuthPolicy, AuthRuntime, ThrottlePolicy};
use casevault_tests::{Practice, TestUser, expect_error, expect_json, id_of};
use futures::StreamExt;
use reqwest::Method;
use serde_json::{Value, json};

use super::world::{Recipient, share, token_of};

/// Wrong passwords sent.
const ATTEMPTS: usize = 1_000;
/// Wrong passwords in flight at once.
const AT_ONCE: usize = 50;
/// Password hashes the server runs at once.
fn password_hashes_at_once() -> usize {
    casevault_server::server::password_hashes_at_once()
}
/// Failures from one address after which the throttle answers 429: past the link's own
/// lock, so that the lock comes first, and well below the flood, so that 429s come too.
const LOCKOUT_FAILURES: u32 = 200;
const RIGHT_PASSWORD: &str = "the right password";

/// The test throttle (millisecond delays) with [`LOCKOUT_FAILURES`].
fn quick_policy() -> AuthPolicy {
    AuthPolicy {
        throttle: ThrottlePolicy {
            lockout_failures: LOCKOUT_FAILURES,
            ..ThrottlePolicy::for_tests()
        },
        ..AuthPolicy::default()
    }
}

/// A link after the flood.
struct Flooded {
    practice: Practice,
    owner: TestUser,
    case: String,
    grant: String,
    token: String,
    /// The status and error code of each wrong password.
    answers: Vec<(u16, String)>,
    elapsed: Duration,
}

impl Flooded {
    /// How many answers had this status.
    fn count(&self, status: u16) -> usize {
        self.answers.iter().filter(|(s, _)| *s == status).count()
    }

    async fn grant_view(&self) -> Value {
        let path = format!("/api/v1/grants/{}", self.grant);
        let response = self
            .practice
            .send(&self.owner, Method::GET, &path, None)
            .await;
        expect_json(response, 200).await
    }
}

/// Shares a file as a link with a password, then sends [`ATTEMPTS`] wrong passwords,
/// [`AT_ONCE`] at a time, over one client.
async fn flood() -> Flooded {
    let practice = Practice::spawn().await;
    AuthRuntime::configure(&practice.state, quick_policy());
    let owner = practice.user("dr").await;
    let case = practice.new_case(&owner).await;
    let file = id_of(
        &practice
            .upload(&owner, &case, "report.pdf", b"%PDF-1.7")
            .await,
    );
    let created = share(
        &practice,
        &owner,
        json!({ "case": case, "file": file, "role": "read", "password": RIGHT_PASSWORD }),
    )
    .await;
    let grant = id_of(&created["grant"]);
    let token = token_of(&created);
    let attacker = Recipient::new(&practice);
    let start = Instant::now();
    let answers = futures::stream::iter(0..ATTEMPTS)
        .map(|attempt| {
            let (attacker, practice, token) = (&attacker, &practice, &token);
            async move {
                let wrong = format!("wrong guess {attempt}");
                let response = attacker.try_password(practice, token, &wrong).await;
                let status = response.status().as_u16();
                let body: Value = response.json().await.expect("a JSON answer");
                let code = body["error"]["code"].as_str().unwrap_or_default();
                (status, code.to_owned())
            }
        })
        .buffer_unordered(AT_ONCE)
        .collect::<Vec<_>>()
        .await;
    let elapsed = start.elapsed();
    Flooded {
        practice,
        owner,
        case,
        grant,
        token,
        answers,
        elapsed,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_password_flood_locks_the_link_with_bounded_hashing() {
    let flooded = flood().await;
    let practice = &flooded.practice;
    let lock_after = practice.state.settings.shares.lock_after;
    let mut tally: BTreeMap<(u16, &str), usize> = BTreeMap::new();
    for (status, code) in &flooded.answers {
        *tally.entry((*status, code.as_str())).or_default() += 1;
    }
    println!(
        "{ATTEMPTS} wrong passwords, {AT_ONCE} at a time: {:.2?} wall time; answers {tally:?}; \
         peak hashes at once {}",
        flooded.elapsed,
        practice.state.passwords.peak_in_flight()
    );
    for (&(status, code), count) in &tally {
        assert!(
            matches!(
                (status, code),
                (401, "invalid_password") | (429, "rate_limited") | (403, "link_locked")
            ),
            "{count} answers {status} {code}"
        );
    }
    assert!(
        flooded.count(401) >= lock_after as usize,
        "the lock comes after {lock_after} wrong passwords"
    );
    assert!(flooded.count(403) > 0, "the locked link says so");
    assert!(flooded.count(429) > 0, "the client is throttled");
    let peak = practice.state.passwords.peak_in_flight();
    assert!(
        (1..=password_hashes_at_once()).contains(&peak),
        "at most {} hashes at once, saw {peak}",
        password_hashes_at_once()
    );
    let view = flooded.grant_view().await;
    assert_eq!(view["status"], "locked", "{view}");

    // Once the client's throttle window has passed (a fresh throttle), the lock alone
    // refuses, even the right password.
    AuthRuntime::configure(&practice.state, quick_policy());
    let patient = Recipient::new(practice);
    let response = patient
        .try_password(practice, &flooded.token, RIGHT_PASSWORD)
        .await;
    assert_eq!(expect_error(response, 403).await, "link_locked");

    let path = format!("/api/v1/grants/{}", flooded.grant);
    let unlock = practice
        .send(
            &flooded.owner,
            Method::PATCH,
            &path,
            Some(json!({ "unlock": true })),
        )
        .await;
    let unlocked = expect_json(unlock, 200).await;
    assert_eq!(
        (
            unlocked["status"].as_str(),
            unlocked["failed_attempts"].as_u64()
        ),
        (Some("active"), Some(0))
    );
    let mut patient = Recipient::new(practice);
    let info = patient.open(practice, &flooded.token, RIGHT_PASSWORD).await;
    assert_eq!(info["role"], "read");
    let tree = patient
        .request(practice, Method::GET, "/api/v1/link/tree")
        .send()
        .await
        .expect("the tree");
    assert_eq!(tree.status(), 200);
    assert!(
        practice.state.passwords.peak_in_flight() <= password_hashes_at_once(),
        "still bounded"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_password_flood_is_in_the_case_history_with_one_lock() {
    let flooded = flood().await;
    let history = flooded
        .practice
        .history(&flooded.owner, &flooded.case)
        .await;
    let of_grant = |action: &str| -> Vec<&Value> {
        history
            .iter()
            .filter(|e| e["action"] == action && e["grant"] == flooded.grant.as_str())
            .collect()
    };
    let opens = of_grant("share.open");
    let denied = opens.iter().filter(|e| e["outcome"] == "denied").count();
    // Each wrong password checked against the link (401) is recorded; the refusals of the
    // throttle (429) and of the lock (403) never reach the link's password.
    assert_eq!(
        denied,
        flooded.count(401),
        "one denied share.open per wrong password checked"
    );
    assert_eq!(opens.len(), denied, "no open succeeded");
    let locks = of_grant("share.lock");
    let seqs: Vec<&Value> = locks.iter().map(|e| &e["seq"]).collect();
    assert_eq!(
        locks.len(),
        1,
        "the link locked once, but share.lock was recorded at seq {seqs:?}"
    );
    assert_eq!(locks[0]["actor"]["kind"], "system", "{}", locks[0]);
    let view = flooded.grant_view().await;
    assert_eq!(view["status"], "locked");
    assert_eq!(
        view["failed_attempts"].as_u64(),
        Some(flooded.count(401) as u64),
        "the grant counted each wrong password checked"
    );
}
