//! [`Backoff`]: when to retry a failed delivery, and when to give up.

use std::time::Duration;

use crate::time::Timestamp;

/// When to retry a failed delivery: `first` after the first failure, multiplied by
/// `factor` after each further one, never more than `max`; given up when the next attempt
/// would fall more than `give_up_after` after the message was queued, or after
/// `max_attempts` failures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    /// Wait after the first failure.
    pub first: Duration,
    /// Growth of the wait per further failure.
    pub factor: u32,
    /// Longest wait.
    pub max: Duration,
    /// Age of a message past which it is given up on.
    pub give_up_after: Duration,
    /// Failures after which a message is given up on.
    pub max_attempts: u32,
}

impl Default for Backoff {
    /// 30 s, 2 min, 8 min, 32 min, then every hour; given up after two days.
    fn default() -> Self {
        Self {
            first: Duration::from_secs(30),
            factor: 4,
            max: Duration::from_secs(3600),
            give_up_after: Duration::from_secs(2 * 24 * 3600),
            max_attempts: 100,
        }
    }
}

impl Backoff {
    /// The wait after `failures` failed attempts (at least one).
    pub fn delay(&self, failures: u32) -> Duration {
        let growth = self
            .factor
            .max(1)
            .checked_pow(failures.saturating_sub(1))
            .unwrap_or(u32::MAX);
        self.first
            .checked_mul(growth)
            .unwrap_or(self.max)
            .min(self.max)
    }

    /// When to try a message queued at `created_at` again after its `failures`-th failure
    /// at `now`; `None` to give up.
    pub fn next_attempt(
        &self,
        created_at: Timestamp,
        failures: u32,
        now: Timestamp,
    ) -> Option<Timestamp> {
        if failures >= self.max_attempts {
            return None;
        }
        let next = now.plus(self.delay(failures));
        (next <= created_at.plus(self.give_up_after)).then_some(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: Duration = Duration::from_secs(60);

    #[test]
    fn the_default_schedule_grows_then_caps_at_an_hour() {
        let b = Backoff::default();
        let delays: Vec<Duration> = (1..=7).map(|n| b.delay(n)).collect();
        assert_eq!(
            delays,
            [30, 120, 480, 1920, 3600, 3600, 3600].map(Duration::from_secs)
        );
        assert_eq!(b.delay(0), b.first, "no failure yet counts as the first");
        assert_eq!(b.delay(u32::MAX), b.max, "no overflow");
    }

    #[test]
    fn gives_up_after_two_days_or_too_many_attempts() {
        let b = Backoff::default();
        let created = Timestamp(1_000_000);
        let soon = created.plus(MIN);
        assert_eq!(b.next_attempt(created, 1, soon), Some(soon.plus(b.first)));
        let late = created.plus(b.give_up_after - 30 * MIN);
        assert_eq!(
            b.next_attempt(created, 40, late),
            None,
            "would pass two days"
        );
        let almost = created.plus(b.give_up_after - 2 * b.max);
        assert!(b.next_attempt(created, 40, almost).is_some());
        assert_eq!(b.next_attempt(created, b.max_attempts, soon), None);

        // Failing at each scheduled time: about fifty attempts over the two days.
        let (mut now, mut failures) = (created, 0);
        while let Some(next) = b.next_attempt(created, failures + 1, now) {
            failures += 1;
            now = next;
        }
        assert!((45..=55).contains(&failures), "{failures} attempts");
        assert!(now <= created.plus(b.give_up_after));
    }

    #[test]
    fn a_factor_of_zero_or_one_keeps_the_first_delay() {
        for factor in [0, 1] {
            let b = Backoff {
                factor,
                ..Backoff::default()
            };
            assert_eq!(b.delay(5), b.first);
        }
    }
}
