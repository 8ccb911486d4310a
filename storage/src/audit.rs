//! The audit log: an append-only, hash-chained record of security events.
//!
//! Entry `n` stores the hash of entry `n-1`; its own hash is SHA-256 over that previous hash
//! and the encoded entry. The chain head (last sequence number and hash) is kept apart, so a
//! verifier detects an edited, removed, inserted, reordered or truncated entry and names the
//! first sequence number where the chain breaks. Entries carry ids, action codes, addresses
//! and outcomes only: never names, patient references or contents.

use std::net::IpAddr;

use casevault_crypto::sha256;
use serde::{Deserialize, Serialize};
use sled::Transactional;

use crate::codec;
use crate::error::{Result, StorageError};
use crate::ids::{CaseId, FileId, GrantId};
use crate::meta::{Meta, get, join_index, key, tx_get, tx_put};
use crate::records::Actor;
use crate::time::Timestamp;

const HEAD_KEY: &[u8] = b"audit_head";

/// Whether the audited action succeeded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Outcome {
    /// It succeeded.
    Success,
    /// It was refused (bad password, no permission, quota).
    Denied,
    /// It started but did not finish (aborted transfer, error).
    Failed,
}

/// One security event, as the caller describes it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEvent {
    /// Who acted.
    pub actor: Actor,
    /// A stable dotted code such as `file.upload` or `auth.login`; never user data.
    pub action: String,
    /// The case concerned, which also files the entry under the case's history.
    pub case: Option<CaseId>,
    /// The file concerned.
    pub file: Option<FileId>,
    /// The grant concerned or used.
    pub grant: Option<GrantId>,
    /// The client's address.
    pub ip: Option<IpAddr>,
    /// How it ended.
    pub outcome: Outcome,
}

/// A stored audit entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Position in the log, from 1, without gaps.
    pub seq: u64,
    /// When it was recorded.
    pub at: Timestamp,
    /// What happened.
    pub event: AuditEvent,
    /// Hash of the previous entry (zeros for the first).
    pub prev: [u8; 32],
    /// This entry's hash.
    pub hash: [u8; 32],
}

impl AuditEntry {
    fn compute_hash(&self) -> Result<[u8; 32]> {
        let body = codec::encode(&(self.seq, self.at, &self.event))?;
        Ok(sha256(&[&self.prev[..], &body].concat()))
    }
}

/// Where and why the chain is broken.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditBreak {
    /// The first sequence number at which the log is not what was written.
    pub seq: u64,
    /// What is wrong there.
    pub reason: &'static str,
}

/// The result of verifying the whole chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditReport {
    /// Entries read.
    pub entries: u64,
    /// The first break, if any.
    pub first_break: Option<AuditBreak>,
}

impl Meta {
    /// Appends an event to the chain (and to its case's history) and returns the entry.
    pub async fn audit(&self, event: AuditEvent) -> Result<AuditEntry> {
        self.run_durable(move |m| {
            let t = &m.trees;
            let entry =
                (&t.audit, &t.audit_by_case, &t.state).transaction(|(audit, by_case, state)| {
                    let (last_seq, prev): (u64, [u8; 32]) =
                        tx_get(state, HEAD_KEY)?.unwrap_or((0, [0; 32]));
                    let mut entry = AuditEntry {
                        seq: last_seq + 1,
                        at: Timestamp::now(),
                        event: event.clone(),
                        prev,
                        hash: [0; 32],
                    };
                    entry.hash = entry
                        .compute_hash()
                        .map_err(sled::transaction::ConflictableTransactionError::Abort)?;
                    tx_put(audit, &entry.seq.to_be_bytes(), &entry)?;
                    if let Some(case) = entry.event.case {
                        by_case.insert(key(&[case.as_bytes(), &entry.seq.to_be_bytes()]), &[])?;
                    }
                    tx_put(state, HEAD_KEY, &(entry.seq, entry.hash))?;
                    Ok(entry)
                })?;
            Ok(entry)
        })
        .await
    }

    /// The history of a case, oldest first.
    pub async fn case_history(&self, case: CaseId) -> Result<Vec<AuditEntry>> {
        self.run(move |m| join_index(&m.trees.audit_by_case, case.as_bytes(), &m.trees.audit))
            .await
    }

    /// The most recent `limit` entries, newest first.
    pub async fn recent_audit(&self, limit: usize) -> Result<Vec<AuditEntry>> {
        self.run_blocking(move |m| {
            m.trees
                .audit
                .iter()
                .values()
                .rev()
                .take(limit)
                .map(|v| codec::decode(&v?))
                .collect()
        })
        .await
    }

    /// Walks the whole chain and reports the first entry that is not as written.
    pub async fn verify_audit(&self) -> Result<AuditReport> {
        self.run_blocking(|m| {
            let mut expected_seq = 1u64;
            let mut prev = [0u8; 32];
            let mut entries = 0u64;
            let broken = |entries, seq, reason| {
                Ok(AuditReport {
                    entries,
                    first_break: Some(AuditBreak { seq, reason }),
                })
            };
            for item in m.trees.audit.iter() {
                let (k, v) = item?;
                let key_seq = k
                    .as_ref()
                    .try_into()
                    .map(u64::from_be_bytes)
                    .map_err(|_| StorageError::Codec("audit key".into()))?;
                let Ok(entry) = codec::decode::<AuditEntry>(&v) else {
                    return broken(entries, expected_seq, "entry cannot be decoded");
                };
                if key_seq != expected_seq || entry.seq != expected_seq {
                    return broken(entries, expected_seq, "entry missing or out of order");
                }
                if entry.prev != prev {
                    return broken(entries, expected_seq, "previous-hash link broken");
                }
                if entry.compute_hash()? != entry.hash {
                    return broken(entries, expected_seq, "entry altered");
                }
                prev = entry.hash;
                expected_seq += 1;
                entries += 1;
            }
            let head: (u64, [u8; 32]) = get(&m.trees.state, HEAD_KEY)?.unwrap_or((0, [0; 32]));
            if head != (expected_seq - 1, prev) {
                return broken(entries, expected_seq, "entries removed from the end");
            }
            Ok(AuditReport {
                entries,
                first_break: None,
            })
        })
        .await
    }
}
