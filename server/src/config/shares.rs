//! The `[shares]` section: how long shares last, when reminders go out, when links lock.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::duration;

/// Share settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ShareSettings {
    /// How long a share lasts when its owner does not choose. Default `7d`.
    #[serde(with = "duration")]
    pub default_expiry: Duration,
    /// The longest an owner may choose. Default `365d`.
    #[serde(with = "duration")]
    pub max_expiry: Duration,
    /// How long before a share expires its owner (and a link's recipient, when their address
    /// is known) are reminded by e-mail; `0s` sends no reminders. Default `1d`.
    #[serde(with = "duration")]
    pub reminder_before: Duration,
    /// Wrong passwords after which a link locks until its owner unlocks it. Default 10.
    pub lock_after: u32,
}

impl Default for ShareSettings {
    fn default() -> Self {
        const DAY: u64 = 24 * 60 * 60;
        Self {
            default_expiry: Duration::from_secs(7 * DAY),
            max_expiry: Duration::from_secs(365 * DAY),
            reminder_before: Duration::from_secs(DAY),
            lock_after: 10,
        }
    }
}
