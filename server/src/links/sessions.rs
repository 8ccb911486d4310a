//! Recipient sessions: what someone who opened a share link and gave its password holds for a
//! short while, in memory, behind the `cv_link` cookie (`Secure`, `HttpOnly`,
//! `SameSite=Strict`; CSRF-checked like account sessions).
//!
//! A session also carries its download claim: the first download through a link with a
//! download limit claims one of the grant's downloads in storage; the claim is counted as a
//! completed download once the session has been sent as many bytes as the download holds
//! (so a download may be resumed with `Range` requests within the session, and a file
//! cannot be fetched piecewise for free), and it is refunded when the session ends without
//! that. One transfer runs at a time per claim.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use casevault_crypto::{Token, TokenHash};
use casevault_storage::{FileId, GrantId, Uploader};

/// A session ends after this long without a request.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(30 * 60);
/// A session ends this long after it began, however active.
pub const ABSOLUTE_TIMEOUT: Duration = Duration::from_secs(4 * 60 * 60);
/// Most sessions at once; past it the oldest is ended.
const MAX_SESSIONS: usize = 50_000;

/// What a download claim is for: one file, or the archive of everything shared.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Download {
    /// One file.
    File(FileId),
    /// The ZIP of everything the grant covers.
    Archive,
}

/// A claimed download of a session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Claim {
    /// What was claimed.
    pub download: Download,
    /// Its length in bytes.
    pub size: u64,
    /// Bytes sent so far, over every request of the session.
    pub sent: u64,
    /// A transfer is running.
    pub busy: bool,
    /// Counted as a completed download.
    pub counted: bool,
}

/// A recipient's session.
#[derive(Clone, Debug)]
pub struct LinkSession {
    /// The grant it was opened for.
    pub grant: GrantId,
    /// When the password was given.
    pub started: Instant,
    /// The last request.
    pub last_seen: Instant,
    /// The download claimed, if any.
    pub claim: Option<Claim>,
    /// Who the uploader said they are (drop and edit grants).
    pub uploader: Option<Uploader>,
    /// Files uploaded in this session with the names the uploader gave, for the receipt
    /// and the owner's one notice.
    pub uploaded: Vec<(FileId, String)>,
    /// The owner was told about this session's uploads.
    pub notified: bool,
    /// The owner was told about this session's downloads.
    pub downloads_notified: bool,
}

impl LinkSession {
    /// Whether the session has ended by its timeouts. A session with a transfer running
    /// lives on until the transfer ends: ending it would refund a download that may still
    /// complete (a large file over a slow line outlasts the idle timeout).
    fn timed_out(&self, now: Instant) -> bool {
        let transferring = self.claim.as_ref().is_some_and(|claim| claim.busy);
        !transferring
            && (now.duration_since(self.last_seen) > IDLE_TIMEOUT
                || now.duration_since(self.started) > ABSOLUTE_TIMEOUT)
    }
}

/// The recipient sessions of one server.
#[derive(Debug, Default)]
pub struct LinkSessions {
    sessions: Mutex<HashMap<TokenHash, LinkSession>>,
}

impl LinkSessions {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<TokenHash, LinkSession>> {
        self.sessions.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts a session for `grant`; its token goes into the cookie. Returns the sessions
    /// that had to end to make room (their claims must be refunded).
    pub fn start(&self, grant: GrantId) -> (Token, Vec<LinkSession>) {
        let token = Token::generate();
        let now = Instant::now();
        let mut sessions = self.lock();
        let mut ended = Vec::new();
        if sessions.len() >= MAX_SESSIONS
            && let Some(oldest) = sessions
                .iter()
                .min_by_key(|(_, s)| s.started)
                .map(|(k, _)| *k)
            && let Some(session) = sessions.remove(&oldest)
        {
            ended.push(session);
        }
        sessions.insert(
            token.hash(),
            LinkSession {
                grant,
                started: now,
                last_seen: now,
                claim: None,
                uploader: None,
                uploaded: Vec::new(),
                notified: false,
                downloads_notified: false,
            },
        );
        (token, ended)
    }

    /// The live session of a token, touched; `None` when unknown or timed out (a timed-out
    /// session is ended and handed back through `ended`).
    pub fn touch(&self, hash: TokenHash, ended: &mut Vec<LinkSession>) -> Option<LinkSession> {
        let mut sessions = self.lock();
        let now = Instant::now();
        let session = sessions.get_mut(&hash)?;
        if session.timed_out(now) {
            ended.extend(sessions.remove(&hash));
            return None;
        }
        session.last_seen = now;
        Some(session.clone())
    }

    /// Applies `change` to a live session; `None` when it is gone.
    pub fn update<T>(
        &self,
        hash: TokenHash,
        change: impl FnOnce(&mut LinkSession) -> T,
    ) -> Option<T> {
        self.lock().get_mut(&hash).map(change)
    }

    /// Records a file a session uploaded, under the name its uploader gave, for the receipt
    /// and the owner's notice.
    pub fn record_upload(&self, hash: TokenHash, file: FileId, given_name: String) {
        self.update(hash, |s| s.uploaded.push((file, given_name)));
    }

    /// Ends a session and hands it back.
    pub fn end(&self, hash: TokenHash) -> Option<LinkSession> {
        self.lock().remove(&hash)
    }

    /// Ends every session of a grant (revocation, lock) and hands them back.
    pub fn end_grant(&self, grant: GrantId) -> Vec<LinkSession> {
        let mut sessions = self.lock();
        let hashes: Vec<TokenHash> = sessions
            .iter()
            .filter(|(_, s)| s.grant == grant)
            .map(|(k, _)| *k)
            .collect();
        hashes.iter().filter_map(|h| sessions.remove(h)).collect()
    }

    /// Ends the sessions that timed out and hands them back.
    pub fn sweep(&self) -> Vec<LinkSession> {
        let now = Instant::now();
        let mut sessions = self.lock();
        let expired: Vec<TokenHash> = sessions
            .iter()
            .filter(|(_, s)| s.timed_out(now))
            .map(|(k, _)| *k)
            .collect();
        expired.iter().filter_map(|h| sessions.remove(h)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_start_touch_and_end() {
        let sessions = LinkSessions::default();
        let grant = GrantId::random();
        let (token, ended) = sessions.start(grant);
        assert!(ended.is_empty());
        let mut ended = Vec::new();
        let session = sessions
            .touch(token.hash(), &mut ended)
            .expect("a live session");
        assert_eq!(session.grant, grant);
        assert!(
            sessions
                .touch(Token::generate().hash(), &mut ended)
                .is_none()
        );
        let other = sessions.start(GrantId::random()).0;
        assert_eq!(sessions.end_grant(grant).len(), 1);
        assert!(sessions.touch(token.hash(), &mut ended).is_none());
        assert!(sessions.touch(other.hash(), &mut ended).is_some());
        assert!(ended.is_empty());
    }

    #[test]
    fn a_session_with_a_running_transfer_does_not_time_out() {
        let now = Instant::now();
        let Some(long_ago) = now.checked_sub(ABSOLUTE_TIMEOUT + IDLE_TIMEOUT) else {
            return;
        };
        let mut session = LinkSession {
            grant: GrantId::random(),
            started: long_ago,
            last_seen: long_ago,
            claim: None,
            uploader: None,
            uploaded: Vec::new(),
            notified: false,
            downloads_notified: false,
        };
        assert!(session.timed_out(now));
        session.claim = Some(Claim {
            download: Download::Archive,
            size: 10,
            sent: 0,
            busy: true,
            counted: false,
        });
        assert!(!session.timed_out(now), "the transfer is still running");
        if let Some(claim) = session.claim.as_mut() {
            claim.busy = false;
        }
        assert!(session.timed_out(now));
    }
}
