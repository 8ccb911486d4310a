//! Share links from the recipient's side: opening a link with its password, the short
//! session that follows ([`LinkUser`]), and the exactly-once accounting of downloads.
//!
//! Every link that cannot be used, whatever the reason (unknown, malformed, expired,
//! revoked, used up), gets the same answer, [`ApiError::LinkUnavailable`], after the same
//! work: a password is checked against a dummy hash when there is no real one, so neither
//! the status, the body nor the timing tells the reasons apart. A link locked after too
//! many wrong passwords says so (its holder already knows the link exists).

pub mod notify;
pub mod reminders;
pub mod sessions;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::extract::FromRequestParts;
use axum::http::HeaderMap;
use axum::http::header::COOKIE;
use axum::http::request::Parts;
use bytes::Bytes;
use casevault_crypto::{Token, TokenHash};
use casevault_storage::{GrantId, GrantRecord, Timestamp};
use futures::{Stream, StreamExt};

use self::sessions::{Claim, Download, LinkSession, LinkSessions};
use crate::auth::session::{csrf_ok, origin_ok};
use crate::error::{ApiError, BoxError};
use crate::state::AppState;

/// Name of the recipient session cookie.
pub const COOKIE_NAME: &str = "cv_link";

/// The link machinery of one server.
#[derive(Debug, Default)]
pub struct Links {
    /// Recipient sessions.
    pub sessions: LinkSessions,
    /// Bumped at every change of any grant: transfers re-read their grant when it moves.
    epoch: AtomicU64,
}

impl Links {
    /// Tells running transfers that grants changed (revoked, edited, locked).
    pub fn grant_changed(&self) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
    }

    /// The current grant epoch.
    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::SeqCst)
    }
}

/// The `Set-Cookie` value of a recipient session.
pub fn set_cookie(token: &Token) -> String {
    format!(
        "{COOKIE_NAME}={}; Path=/; Secure; HttpOnly; SameSite=Strict",
        token.as_str()
    )
}

/// The `Set-Cookie` value that ends a recipient session.
pub const CLEAR_COOKIE: &str = "cv_link=; Path=/; Max-Age=0; Secure; HttpOnly; SameSite=Strict";

fn cookie_value(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE_NAME)
        .map(|(_, value)| value.trim().to_owned())
}

/// A recipient with a live session. Extracting it checks the cookie, the session's
/// timeouts and, for state-changing requests, the `Origin` and the `X-CSRF-Token`. The
/// grant itself is checked by [`crate::access::authorize`] at each request.
#[derive(Clone, Debug)]
pub struct LinkUser {
    /// The session's token hash.
    pub session: TokenHash,
    /// The grant the session was opened for.
    pub grant: GrantId,
    /// Who the uploader said they are.
    pub uploader: Option<casevault_storage::Uploader>,
}

impl FromRequestParts<AppState> for LinkUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let cookie = cookie_value(&parts.headers).ok_or(ApiError::LinkUnavailable)?;
        let token = Token::parse(&cookie).map_err(|_| ApiError::LinkUnavailable)?;
        let mut ended = Vec::new();
        let session = state.links.sessions.touch(token.hash(), &mut ended);
        settle(state, ended).await;
        let session = session.ok_or(ApiError::LinkUnavailable)?;
        let verified = parts.method.is_safe()
            || (origin_ok(&parts.headers, state) && csrf_ok(&parts.headers, &cookie));
        if !verified {
            return Err(ApiError::CsrfFailed);
        }
        Ok(LinkUser {
            session: token.hash(),
            grant: session.grant,
            uploader: session.uploader,
        })
    }
}

/// Gives back the uncounted download claims of sessions that ended, and tells owners about
/// uploads they were not told about yet.
pub async fn settle(state: &AppState, ended: Vec<LinkSession>) {
    for session in ended {
        if !session.uploaded.is_empty() && !session.notified {
            tell_owner_of_drops(state, &session).await;
        }
        if let Some(claim) = session.claim
            && !claim.counted
            && let Err(err) = state.storage.meta().release_download(session.grant).await
        {
            tracing::warn!(grant = %session.grant, error = %err, "could not refund a download");
        }
    }
}

/// Tells the owner of a session's grant how many files it uploaded.
pub async fn tell_owner_of_drops(state: &AppState, session: &LinkSession) {
    if let Ok(Some(grant)) = state.storage.meta().grant(session.grant).await {
        notify::files_dropped(state, grant.owner, grant.id, session.uploaded.len()).await;
    }
}

/// Ends every session of a grant (it was revoked or locked) and refunds their claims.
pub async fn end_sessions(state: &AppState, grant: GrantId) {
    let ended = state.links.sessions.end_grant(grant);
    settle(state, ended).await;
}

/// Ends the sessions that timed out, every minute until `stop`.
pub fn spawn_sweeper(state: AppState, stop: tokio_util::sync::CancellationToken) {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(std::time::Duration::from_secs(60));
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                _ = ticks.tick() => {
                    let ended = state.links.sessions.sweep();
                    settle(&state, ended).await;
                }
            }
        }
    });
}

/// What a session may do about a download it asks for.
enum ClaimStep {
    /// Its claim covers it: go on.
    Held,
    /// It needs a new claim from storage (giving back an open one for something else).
    Needed(Option<Claim>),
    /// Another transfer of the same claim is running.
    Busy,
}

/// A download in progress under a session's claim: call [`ClaimGuard::finish`] with the
/// bytes sent when the transfer ends.
pub struct ClaimGuard {
    state: AppState,
    session: TokenHash,
    grant: GrantId,
}

/// Claims the download `download` of `size` bytes for the session: exactly-once accounting
/// (see [`sessions`]). 409 while another transfer of the session's claim is running, the
/// uniform unavailable answer when the grant has no download left.
pub async fn claim(
    state: &AppState,
    link: &LinkUser,
    download: Download,
    size: u64,
) -> Result<ClaimGuard, ApiError> {
    let step = state
        .links
        .sessions
        .update(link.session, |session| match &mut session.claim {
            Some(claim) if claim.download == download && !claim.counted => {
                if claim.busy {
                    ClaimStep::Busy
                } else {
                    claim.busy = true;
                    ClaimStep::Held
                }
            }
            Some(claim) if claim.busy => ClaimStep::Busy,
            other => ClaimStep::Needed(other.take()),
        })
        .ok_or(ApiError::LinkUnavailable)?;
    let guard = ClaimGuard {
        state: state.clone(),
        session: link.session,
        grant: link.grant,
    };
    match step {
        ClaimStep::Held => return Ok(guard),
        ClaimStep::Busy => {
            return Err(ApiError::Conflict(
                "A download through this link is already running.".into(),
            ));
        }
        ClaimStep::Needed(previous) => {
            if previous.is_some_and(|c| !c.counted) {
                state.storage.meta().release_download(link.grant).await?;
            }
        }
    }
    state
        .storage
        .meta()
        .claim_download(link.grant, Timestamp::now())
        .await
        .map_err(|err| match err {
            casevault_storage::StorageError::GrantUnavailable => ApiError::LinkUnavailable,
            other => other.into(),
        })?;
    let installed = state.links.sessions.update(link.session, |session| {
        session.claim = Some(Claim {
            download,
            size,
            sent: 0,
            busy: true,
            counted: false,
        });
    });
    if installed.is_none() {
        // The session ended meanwhile: nobody will finish this claim.
        state.storage.meta().release_download(link.grant).await?;
        return Err(ApiError::LinkUnavailable);
    }
    Ok(guard)
}

impl ClaimGuard {
    /// Records `sent` more bytes of the claimed download; once the session has been sent
    /// the whole download, the grant counts it as completed. Returns whether it was counted
    /// now.
    pub async fn finish(self, sent: u64) -> bool {
        let count = self
            .state
            .links
            .sessions
            .update(self.session, |session| match &mut session.claim {
                Some(claim) => {
                    claim.busy = false;
                    claim.sent = claim.sent.saturating_add(sent);
                    if !claim.counted && claim.sent >= claim.size {
                        claim.counted = true;
                        true
                    } else {
                        false
                    }
                }
                None => false,
            })
            .unwrap_or(false);
        if count
            && let Err(err) = self
                .state
                .storage
                .meta()
                .complete_download(self.grant)
                .await
        {
            tracing::error!(grant = %self.grant, error = %err, "could not count a download");
        }
        if count {
            let first = self
                .state
                .links
                .sessions
                .update(self.session, |s| {
                    !std::mem::replace(&mut s.downloads_notified, true)
                })
                .unwrap_or(false);
            if first && let Ok(Some(grant)) = self.state.storage.meta().grant(self.grant).await {
                notify::files_downloaded(&self.state, grant.owner, grant.id).await;
            }
        }
        count
    }
}

/// Watches a grant during a transfer: [`GrantWatch::still_valid`] is called before each
/// chunk and re-reads the grant only when some grant changed, so a revocation stops the
/// transfer at its next chunk, and an expiry at the first chunk past it.
pub struct GrantWatch {
    state: AppState,
    grant: GrantRecord,
    epoch: u64,
}

impl GrantWatch {
    /// Starts watching `grant` (as read at the start of the request).
    pub fn new(state: &AppState, grant: GrantRecord) -> Self {
        Self {
            epoch: state.links.epoch(),
            state: state.clone(),
            grant,
        }
    }

    /// Whether the transfer may go on.
    pub async fn still_valid(&mut self) -> bool {
        let epoch = self.state.links.epoch();
        if epoch != self.epoch {
            self.epoch = epoch;
            match self.state.storage.meta().grant(self.grant.id).await {
                Ok(Some(grant)) => self.grant = grant,
                _ => return false,
            }
        }
        let now = Timestamp::now();
        self.grant.revoked_at.is_none()
            && self.grant.locked_at.is_none()
            && self.grant.expires_at.is_none_or(|at| now < at)
    }
}

/// A transfer's body: through a grant (a colleague's share), it stops at the first chunk
/// after the grant was revoked or expired; otherwise it is `inner` as it is.
pub async fn watched_if_shared<S, E>(
    state: &AppState,
    grant: Option<GrantId>,
    inner: S,
) -> Result<futures::stream::BoxStream<'static, Result<Bytes, BoxError>>, ApiError>
where
    S: Stream<Item = Result<Bytes, E>> + Send + Unpin + 'static,
    E: Into<BoxError> + Send,
{
    let Some(grant) = grant else {
        return Ok(inner.map(|item| item.map_err(Into::into)).boxed());
    };
    let record = state
        .storage
        .meta()
        .grant(grant)
        .await?
        .ok_or(ApiError::NotFound)?;
    let sent = Arc::new(AtomicU64::new(0));
    Ok(watched(inner, GrantWatch::new(state, record), sent).boxed())
}

/// A body stream that stops with an error at the first chunk after its grant stopped being
/// valid, and counts the bytes it yields into `sent`.
pub fn watched<S, E>(
    inner: S,
    watch: GrantWatch,
    sent: Arc<AtomicU64>,
) -> impl Stream<Item = Result<Bytes, BoxError>> + Send + 'static
where
    S: Stream<Item = Result<Bytes, E>> + Send + Unpin + 'static,
    E: Into<BoxError> + Send,
{
    futures::stream::unfold(Some((inner, watch)), move |state| {
        let sent = Arc::clone(&sent);
        async move {
            let (mut inner, mut watch) = state?;
            let item = inner.next().await?;
            if !watch.still_valid().await {
                return Some((
                    Err(BoxError::from("the share was withdrawn or expired")),
                    None,
                ));
            }
            match item {
                Ok(bytes) => {
                    sent.fetch_add(bytes.len() as u64, Ordering::Relaxed);
                    Some((Ok(bytes), Some((inner, watch))))
                }
                Err(err) => Some((Err(err.into()), None)),
            }
        }
    })
}
