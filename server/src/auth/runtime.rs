//! Per-server authentication state that lives in memory: the session timeouts, the login
//! throttle and the clock sessions are judged by.
//!
//! Each server's [`App`](crate::state::App) holds its runtime in an [`AuthSlot`], created with
//! [`AuthPolicy::default`]; tests install short timeouts and a quick throttle with
//! [`AuthRuntime::configure`] and move the clock with [`AuthRuntime::advance_clock`].

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use casevault_storage::Timestamp;

use super::throttle::{Throttle, ThrottlePolicy};
use crate::state::AppState;

/// A session ends after this long without a request.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(30 * 60);
/// A session ends this long after the login, however active.
pub const ABSOLUTE_TIMEOUT: Duration = Duration::from_secs(12 * 60 * 60);

/// Timeouts and throttling.
#[derive(Clone, Debug)]
pub struct AuthPolicy {
    /// Idle timeout of a session.
    pub idle_timeout: Duration,
    /// Absolute timeout of a session.
    pub absolute_timeout: Duration,
    /// Failed-login throttling.
    pub throttle: ThrottlePolicy,
}

impl Default for AuthPolicy {
    fn default() -> Self {
        Self {
            idle_timeout: IDLE_TIMEOUT,
            absolute_timeout: ABSOLUTE_TIMEOUT,
            throttle: ThrottlePolicy::default(),
        }
    }
}

/// One server's authentication state.
#[derive(Debug)]
pub struct AuthRuntime {
    policy: AuthPolicy,
    /// Failed-login counters.
    pub throttle: Throttle,
    /// Milliseconds added to the wall clock (tests only move it forward).
    clock_offset_ms: AtomicI64,
    /// When expired sessions were last swept.
    last_sweep: Mutex<Option<Instant>>,
}

/// Expired sessions are swept at most this often (at logins).
const SWEEP_EVERY: Duration = Duration::from_secs(10 * 60);

/// The replaceable runtime of one server, kept in its [`App`](crate::state::App).
#[derive(Debug)]
pub struct AuthSlot(Mutex<Arc<AuthRuntime>>);

impl Default for AuthSlot {
    fn default() -> Self {
        Self(Mutex::new(Arc::new(
            AuthRuntime::new(AuthPolicy::default()),
        )))
    }
}

impl AuthRuntime {
    fn new(policy: AuthPolicy) -> Self {
        Self {
            throttle: Throttle::new(policy.throttle.clone()),
            policy,
            clock_offset_ms: AtomicI64::new(0),
            last_sweep: Mutex::new(None),
        }
    }

    /// The runtime of the server `state` belongs to.
    pub fn of(state: &AppState) -> Arc<AuthRuntime> {
        Arc::clone(&state.auth.0.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Replaces the runtime of `state`'s server with a fresh one using `policy` (counters
    /// and clock offset reset). For tests and embedding.
    pub fn configure(state: &AppState, policy: AuthPolicy) -> Arc<AuthRuntime> {
        let runtime = Arc::new(AuthRuntime::new(policy));
        *state.auth.0.lock().unwrap_or_else(|e| e.into_inner()) = Arc::clone(&runtime);
        runtime
    }

    /// The policy in force.
    pub fn policy(&self) -> &AuthPolicy {
        &self.policy
    }

    /// The current time as sessions see it.
    pub fn now(&self) -> Timestamp {
        let offset = self.clock_offset_ms.load(Ordering::SeqCst);
        Timestamp(Timestamp::now().0.saturating_add(offset))
    }

    /// Deletes expired sessions in the background, at most every ten minutes (called at
    /// logins, which are what create sessions).
    pub fn sweep_sessions_now_and_then(self: &Arc<Self>, state: &AppState) {
        {
            let mut last = self.last_sweep.lock().unwrap_or_else(|e| e.into_inner());
            if last.is_some_and(|at| at.elapsed() < SWEEP_EVERY) {
                return;
            }
            *last = Some(Instant::now());
        }
        let meta = state.storage.meta().clone();
        let (now, idle, absolute) = (
            self.now(),
            self.policy.idle_timeout,
            self.policy.absolute_timeout,
        );
        tokio::spawn(async move {
            match meta.delete_expired_sessions(now, idle, absolute).await {
                Ok(0) => {}
                Ok(ended) => tracing::debug!(ended, "expired sessions deleted"),
                Err(err) => tracing::warn!(error = %err, "cannot delete expired sessions"),
            }
        });
    }

    /// Moves this server's session clock forward (tests of the timeouts).
    pub fn advance_clock(&self, by: Duration) {
        let millis = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        self.clock_offset_ms.fetch_add(millis, Ordering::SeqCst);
    }
}
