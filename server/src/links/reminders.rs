//! Expiry reminders: `shares.reminder_before` ahead of a share's expiry, its owner is told,
//! and so is a link's recipient when their address is known and the link can still be used.
//! Each share is reminded once (its `reminded_at` is set before the mail is queued).

use std::time::Duration;

use casevault_storage::{GrantRecord, GrantStatus, Timestamp};
use tokio_util::sync::CancellationToken;

use super::notify;
use crate::state::AppState;

/// How often shares are checked for reminders.
const CHECK_EVERY: Duration = Duration::from_secs(10 * 60);

/// Checks every [`CHECK_EVERY`] until `stop`.
pub fn spawn(state: AppState, stop: CancellationToken) {
    if state.settings.shares.reminder_before.is_zero() {
        return;
    }
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(CHECK_EVERY);
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                _ = ticks.tick() => {
                    if let Err(err) = send_due(&state, Timestamp::now()).await {
                        tracing::warn!(error = %err, "expiry reminders failed");
                    }
                }
            }
        }
    });
}

/// Whether `grant` is due for its reminder at `now`: active, not reminded, expiring within
/// `before`, and not so short-lived that it was created inside that window.
pub fn due(grant: &GrantRecord, now: Timestamp, before: Duration) -> bool {
    let before = i64::try_from(before.as_millis()).unwrap_or(i64::MAX);
    let Some(expires) = grant.expires_at else {
        return false;
    };
    grant.reminded_at.is_none()
        && grant.status(now) == GrantStatus::Active
        && expires.0.saturating_sub(now.0) <= before
        && expires.0.saturating_sub(grant.created_at.0) > before
}

/// Sends the reminders due at `now`; returns how many shares were reminded.
pub async fn send_due(
    state: &AppState,
    now: Timestamp,
) -> Result<usize, casevault_storage::StorageError> {
    let before = state.settings.shares.reminder_before;
    let meta = state.storage.meta();
    let mut reminded = 0;
    for grant in meta.all_grants().await? {
        if !due(&grant, now, before) {
            continue;
        }
        meta.update_grant(grant.id, move |g| {
            g.reminded_at = Some(now);
            Ok(())
        })
        .await?;
        let expires = grant
            .expires_at
            .map(crate::api::uploads::http_date)
            .unwrap_or_default();
        notify::expiry_owner(state, &grant, &expires).await;
        if grant.token_hash().is_some()
            && let Some(case) = meta.case(grant.target.case()).await?
            && let Ok(key) = state.storage.case_key(&case)
            && let Ok(Some(recipient)) = state.storage.grant_recipient(&key, &grant)
            && let Some(email) = recipient.email
        {
            notify::expiry_recipient(state, &grant, &email, &expires).await;
        }
        reminded += 1;
    }
    Ok(reminded)
}

#[cfg(test)]
mod tests {
    use casevault_storage::{CaseId, GrantAudience, GrantRole, GrantTarget, UserId};

    use super::*;

    const HOUR: i64 = 3_600_000;

    fn grant(created: i64, expires: i64) -> GrantRecord {
        let mut grant = GrantRecord::new(
            UserId::random(),
            GrantTarget::Case(CaseId::random()),
            GrantRole::Read,
            GrantAudience::Colleague(UserId::random()),
            Some(Timestamp(expires)),
        );
        grant.created_at = Timestamp(created);
        grant
    }

    #[test]
    fn reminders_fall_due_once_inside_the_window() {
        let day = Duration::from_secs(24 * 3600);
        let now = Timestamp(1_000 * HOUR);
        assert!(due(&grant(now.0 - 100 * HOUR, now.0 + 23 * HOUR), now, day));
        assert!(
            !due(&grant(now.0 - 100 * HOUR, now.0 + 25 * HOUR), now, day),
            "too early"
        );
        assert!(
            !due(&grant(now.0 - HOUR, now.0 + 20 * HOUR), now, day),
            "a short share"
        );
        assert!(
            !due(&grant(now.0 - 100 * HOUR, now.0 - HOUR), now, day),
            "expired"
        );
        let mut reminded = grant(now.0 - 100 * HOUR, now.0 + 23 * HOUR);
        reminded.reminded_at = Some(now);
        assert!(!due(&reminded, now, day));
        let mut revoked = grant(now.0 - 100 * HOUR, now.0 + 23 * HOUR);
        revoked.revoked_at = Some(now);
        assert!(!due(&revoked, now, day));
    }
}
