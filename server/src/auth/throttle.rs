//! Failed-login throttling, in memory: per account (the lower-cased e-mail) and per client
//! address. After [`ThrottlePolicy::free_failures`] failures every further failure is
//! answered only after a delay that doubles each time (up to a cap); after
//! [`ThrottlePolicy::lockout_failures`] failures within the window every login for that
//! account or address, even with the right password, is refused with 429 until the window
//! has passed. A successful login clears the account's counter.
//!
//! The table is bounded: expired entries are pruned every minute, and when it is full the
//! entry with the oldest first failure is dropped, so a flood of names cannot grow it.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The throttle's parameters.
#[derive(Clone, Debug)]
pub struct ThrottlePolicy {
    /// Failures answered without delay.
    pub free_failures: u32,
    /// Delay after the first failure past the free ones; doubles with each further one.
    pub base_delay: Duration,
    /// Longest delay.
    pub max_delay: Duration,
    /// Failures within the window after which logins are refused (429).
    pub lockout_failures: u32,
    /// How long failures are remembered, counted from the first one.
    pub window: Duration,
    /// Most accounts and addresses tracked at once.
    pub max_entries: usize,
}

impl Default for ThrottlePolicy {
    /// 5 free failures, then 250 ms doubling up to 8 s; locked after 20 within 15 minutes.
    fn default() -> Self {
        Self {
            free_failures: 5,
            base_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(8),
            lockout_failures: 20,
            window: Duration::from_secs(15 * 60),
            max_entries: 100_000,
        }
    }
}

impl ThrottlePolicy {
    /// Quick parameters for tests: 2 free failures, delays of a few milliseconds, locked
    /// after 6.
    pub fn for_tests() -> Self {
        Self {
            free_failures: 2,
            base_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(10),
            lockout_failures: 6,
            ..Self::default()
        }
    }

    /// The delay after the `failures`-th failure.
    pub fn delay(&self, failures: u32) -> Duration {
        if failures <= self.free_failures {
            return Duration::ZERO;
        }
        let doublings = (failures - self.free_failures - 1).min(20);
        self.base_delay
            .saturating_mul(1 << doublings)
            .min(self.max_delay)
    }
}

/// What failures are counted against.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ThrottleKey {
    /// A lower-cased e-mail address (whether or not the account exists).
    Account(String),
    /// A client address.
    Ip(IpAddr),
    /// A share link (wrong link passwords).
    Grant(casevault_storage::GrantId),
}

#[derive(Clone, Copy, Debug)]
struct Entry {
    failures: u32,
    first: Instant,
}

/// The failure counters.
#[derive(Debug)]
pub struct Throttle {
    policy: ThrottlePolicy,
    inner: Mutex<Inner>,
}

#[derive(Debug)]
struct Inner {
    entries: HashMap<ThrottleKey, Entry>,
    last_prune: Instant,
}

/// How often expired entries are swept.
const PRUNE_EVERY: Duration = Duration::from_secs(60);

impl Throttle {
    /// An empty throttle.
    pub fn new(policy: ThrottlePolicy) -> Self {
        Self {
            policy,
            inner: Mutex::new(Inner {
                entries: HashMap::new(),
                last_prune: Instant::now(),
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `Err(retry_after)` when any of `keys` is locked out.
    pub fn check(&self, keys: &[ThrottleKey]) -> Result<(), Duration> {
        let now = Instant::now();
        let inner = self.lock();
        let mut retry = None;
        for key in keys {
            let Some(entry) = inner.entries.get(key) else {
                continue;
            };
            let age = now.duration_since(entry.first);
            if age < self.policy.window && entry.failures >= self.policy.lockout_failures {
                let left = self.policy.window - age;
                retry = Some(retry.map_or(left, |r: Duration| r.max(left)));
            }
        }
        retry.map_or(Ok(()), Err)
    }

    /// Counts a failure against every key and returns the delay to apply before answering.
    pub fn fail(&self, keys: &[ThrottleKey]) -> Duration {
        let now = Instant::now();
        let mut inner = self.lock();
        if now.duration_since(inner.last_prune) >= PRUNE_EVERY {
            self.prune(&mut inner, now);
        }
        let mut delay = Duration::ZERO;
        for key in keys {
            if !inner.entries.contains_key(key) && inner.entries.len() >= self.policy.max_entries {
                self.prune(&mut inner, now);
                if inner.entries.len() >= self.policy.max_entries {
                    let oldest = inner
                        .entries
                        .iter()
                        .min_by_key(|(_, e)| e.first)
                        .map(|(k, _)| k.clone());
                    if let Some(oldest) = oldest {
                        inner.entries.remove(&oldest);
                    }
                }
            }
            let entry = inner.entries.entry(key.clone()).or_insert(Entry {
                failures: 0,
                first: now,
            });
            if now.duration_since(entry.first) >= self.policy.window {
                *entry = Entry {
                    failures: 0,
                    first: now,
                };
            }
            entry.failures = entry.failures.saturating_add(1);
            delay = delay.max(self.policy.delay(entry.failures));
        }
        delay
    }

    /// Forgets the failures of `key`.
    pub fn clear(&self, key: &ThrottleKey) {
        self.lock().entries.remove(key);
    }

    /// Entries tracked (for tests).
    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    /// Whether nothing is tracked.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn prune(&self, inner: &mut Inner, now: Instant) {
        let window = self.policy.window;
        inner
            .entries
            .retain(|_, e| now.duration_since(e.first) < window);
        inner.last_prune = now;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(name: &str) -> ThrottleKey {
        ThrottleKey::Account(name.into())
    }

    #[test]
    fn delays_grow_and_are_capped() {
        let policy = ThrottlePolicy::default();
        assert_eq!(policy.delay(5), Duration::ZERO);
        assert_eq!(policy.delay(6), Duration::from_millis(250));
        assert_eq!(policy.delay(7), Duration::from_millis(500));
        assert_eq!(policy.delay(19), Duration::from_secs(8));
        assert_eq!(policy.delay(u32::MAX), Duration::from_secs(8));
    }

    #[test]
    fn locks_after_the_limit_and_clears() {
        let throttle = Throttle::new(ThrottlePolicy::for_tests());
        let keys = [account("a@example.org")];
        for _ in 0..6 {
            assert!(throttle.check(&keys).is_ok());
            throttle.fail(&keys);
        }
        assert!(throttle.check(&keys).is_err());
        throttle.clear(&keys[0]);
        assert!(throttle.check(&keys).is_ok());
    }

    #[test]
    fn the_table_is_bounded() {
        let throttle = Throttle::new(ThrottlePolicy {
            max_entries: 10,
            ..ThrottlePolicy::for_tests()
        });
        for i in 0..100 {
            throttle.fail(&[account(&format!("{i}@example.org"))]);
        }
        assert_eq!(throttle.len(), 10);
    }
}
