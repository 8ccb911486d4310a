//! Writing security events about cases and files to the audit log.
//!
//! ```ignore
//! Audit::case(Actor::User(user.id), "file.upload", case.id, ip).file(file.id).record(&state).await?;
//! ```

use std::net::IpAddr;

use casevault_storage::{Actor, AuditEvent, CaseId, FileId, GrantId, Outcome};

use crate::error::ApiError;
use crate::state::AppState;
use crate::transfer::tracked::Ending;

/// An audit event being described; [`Audit::record`] appends it to the log.
#[derive(Debug, Clone)]
#[must_use = "an audit event is written only by `record`"]
pub struct Audit(AuditEvent);

impl Audit {
    /// A successful `action` (a stable dotted code, never user data) on `case`.
    pub fn case(actor: Actor, action: &str, case: CaseId, ip: Option<IpAddr>) -> Self {
        Audit(AuditEvent {
            actor,
            action: action.to_owned(),
            case: Some(case),
            file: None,
            grant: None,
            ip,
            outcome: Outcome::Success,
        })
    }

    /// The file concerned.
    pub fn file(mut self, file: FileId) -> Self {
        self.0.file = Some(file);
        self
    }

    /// The grant concerned or used.
    pub fn grant(mut self, grant: GrantId) -> Self {
        self.0.grant = Some(grant);
        self
    }

    /// How it ended (default: success).
    pub fn outcome(mut self, outcome: Outcome) -> Self {
        self.0.outcome = outcome;
        self
    }

    /// Appends the event to the audit log.
    pub async fn record(self, state: &AppState) -> Result<(), ApiError> {
        state.storage.meta().audit(self.0).await?;
        Ok(())
    }

    /// The end callback of a [`Tracked`](crate::transfer::Tracked) response body: records the
    /// event as a success when the body was sent to its end, as failed when it broke off.
    pub fn when_sent(self, state: &AppState) -> impl FnOnce(Ending) + Send + 'static {
        let state = state.clone();
        move |ending| {
            let outcome = match ending {
                Ending::Completed => Outcome::Success,
                Ending::Aborted => Outcome::Failed,
            };
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                runtime.spawn(async move { self.outcome(outcome).record_or_log(&state).await });
            }
        }
    }

    /// Appends the event, logging (without failing) when the log cannot be written: for
    /// events recorded after the response has started, when no error can reach the client.
    pub async fn record_or_log(self, state: &AppState) {
        let action = self.0.action.clone();
        if let Err(err) = self.record(state).await {
            tracing::error!(%action, error = %err, "could not write an audit entry");
        }
    }
}
