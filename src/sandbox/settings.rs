//! Timing and limits of the emulated cloud, per account.
//!
//! The durations are those of the real service; the emulator multiplies
//! them by its time scale before it waits.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::sandbox::duration;

/// How long things take and how many requests an account may make.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    /// From a droplet create until its create action completes and the
    /// droplet is `active`.
    #[serde(with = "duration::text")]
    pub boot_time: Duration,

    /// From `active` until the droplet's addresses appear in `networks`.
    #[serde(with = "duration::text")]
    pub ip_delay: Duration,

    /// How long a droplet action (shutdown, power_off, power_on, snapshot)
    /// stays `in-progress`.
    #[serde(with = "duration::text")]
    pub action_duration: Duration,

    /// Requests per minute before a 429 with `retry-after` (the burst limit).
    pub rate_limit_per_minute: u32,

    /// Requests per hour, reported in `ratelimit-limit`.
    pub rate_limit_per_hour: u32,

    /// The public address the account's next droplet gets, when free: a
    /// server that takes over an old server's address, as a real cloud may
    /// hand out. Used once, then cleared.
    #[serde(default)]
    pub next_public_address: Option<std::net::Ipv4Addr>,

    /// New droplets get no lab host: they exist in the API only. For
    /// filling an account with many droplets, as the plan benchmark does.
    #[serde(default)]
    pub hostless_droplets: bool,

    /// Droplets the account may have at once: 25 on a new DigitalOcean
    /// team, raised on request.
    #[serde(default = "default_droplet_limit")]
    pub droplet_limit: u32,
}

fn default_droplet_limit() -> u32 {
    25
}

impl Default for Settings {
    /// DigitalOcean's published rate limits. The boot, address and action
    /// times are rough estimates for a small droplet.
    fn default() -> Self {
        Self {
            boot_time: Duration::from_secs(30),
            ip_delay: Duration::from_secs(3),
            action_duration: Duration::from_secs(10),
            rate_limit_per_minute: 250,
            rate_limit_per_hour: 5000,
            next_public_address: None,
            hostless_droplets: false,
            droplet_limit: default_droplet_limit(),
        }
    }
}

/// A change to some settings; absent fields keep their value.
#[derive(Clone, Copy, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettingsPatch {
    #[serde(default, with = "duration::optional_text")]
    pub boot_time: Option<Duration>,
    #[serde(default, with = "duration::optional_text")]
    pub ip_delay: Option<Duration>,
    #[serde(default, with = "duration::optional_text")]
    pub action_duration: Option<Duration>,
    pub rate_limit_per_minute: Option<u32>,
    pub rate_limit_per_hour: Option<u32>,
    pub next_public_address: Option<std::net::Ipv4Addr>,
    pub hostless_droplets: Option<bool>,
    pub droplet_limit: Option<u32>,
}

impl Settings {
    /// These settings with the patch's fields applied. A limit of zero is
    /// rejected because it would refuse every request.
    pub fn patched(mut self, patch: &SettingsPatch) -> Result<Self, String> {
        if patch.rate_limit_per_minute == Some(0) || patch.rate_limit_per_hour == Some(0) {
            return Err("rate limits must be at least 1 request".to_string());
        }

        if let Some(value) = patch.boot_time {
            self.boot_time = value;
        }
        if let Some(value) = patch.ip_delay {
            self.ip_delay = value;
        }
        if let Some(value) = patch.action_duration {
            self.action_duration = value;
        }
        if let Some(value) = patch.rate_limit_per_minute {
            self.rate_limit_per_minute = value;
        }
        if let Some(value) = patch.rate_limit_per_hour {
            self.rate_limit_per_hour = value;
        }
        if let Some(value) = patch.next_public_address {
            self.next_public_address = Some(value);
        }
        if let Some(value) = patch.hostless_droplets {
            self.hostless_droplets = value;
        }
        if let Some(value) = patch.droplet_limit {
            self.droplet_limit = value;
        }
        Ok(self)
    }
}
