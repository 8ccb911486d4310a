//! The audit chain detects edits, removals, reordering and truncation, at the right entry.

use casevault_storage::{Actor, AuditEvent, CaseId, Meta, Outcome};

fn event(i: u8, case: CaseId) -> AuditEvent {
    AuditEvent {
        actor: Actor::System,
        action: format!("test.event{i}"),
        case: Some(case),
        file: None,
        grant: None,
        ip: Some(std::net::IpAddr::from([127, 0, 0, i])),
        outcome: Outcome::Success,
    }
}

async fn log_with_ten_entries() -> (tempfile::TempDir, CaseId) {
    let dir = tempfile::tempdir().expect("dir");
    let meta = Meta::open(dir.path()).expect("open");
    let case = CaseId::random();
    for i in 1..=10 {
        let entry = meta.audit(event(i, case)).await.expect("append");
        assert_eq!(entry.seq, u64::from(i));
    }
    let report = meta.verify_audit().await.expect("verify");
    assert_eq!((report.entries, report.first_break), (10, None));
    assert_eq!(meta.case_history(case).await.expect("history").len(), 10);
    (dir, case)
}

/// Opens the raw audit tree, applies `tamper`, and returns the first broken sequence number.
async fn break_at(tamper: impl FnOnce(&sled::Tree)) -> Option<u64> {
    let (dir, _) = log_with_ten_entries().await;
    {
        let db = retry(|| sled::open(dir.path()));
        tamper(&db.open_tree("audit").expect("tree"));
        db.flush().expect("flush");
    }
    let meta = retry(|| Meta::open(dir.path()));
    meta.verify_audit()
        .await
        .expect("verify")
        .first_break
        .map(|b| b.seq)
}

/// Opens the database once the previous handle's background threads have let go of it
/// (blocking tasks may hold the last clone for a moment after returning).
fn retry<T, E: std::fmt::Debug>(open: impl Fn() -> Result<T, E>) -> T {
    let mut last = None;
    for _ in 0..100 {
        match open() {
            Ok(value) => return value,
            Err(e) => last = Some(e),
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    panic!("database still locked: {last:?}");
}

fn key(seq: u64) -> [u8; 8] {
    seq.to_be_bytes()
}

#[tokio::test]
async fn editing_an_entry_is_detected_at_that_entry() {
    let seq = break_at(|tree| {
        let mut value = tree.get(key(4)).expect("get").expect("entry").to_vec();
        let pos = value
            .windows(6)
            .position(|w| w == b"event4")
            .expect("action bytes");
        value[pos + 5] = b'X';
        tree.insert(key(4), value).expect("edit");
    })
    .await;
    assert_eq!(seq, Some(4));
}

#[tokio::test]
async fn removing_an_entry_is_detected() {
    assert_eq!(
        break_at(|tree| drop(tree.remove(key(6)).expect("remove"))).await,
        Some(6)
    );
}

#[tokio::test]
async fn reordering_entries_is_detected() {
    let seq = break_at(|tree| {
        let three = tree.get(key(3)).expect("get").expect("3");
        let seven = tree.get(key(7)).expect("get").expect("7");
        tree.insert(key(3), seven).expect("swap");
        tree.insert(key(7), three).expect("swap");
    })
    .await;
    assert_eq!(seq, Some(3));
}

#[tokio::test]
async fn truncating_the_log_is_detected() {
    let seq = break_at(|tree| {
        tree.remove(key(10)).expect("remove");
        tree.remove(key(9)).expect("remove");
    })
    .await;
    assert_eq!(seq, Some(9));
}

#[tokio::test]
async fn an_intact_log_verifies() {
    assert_eq!(break_at(|_| {}).await, None);
}
