//! The client's own request budget, so a run stays under DigitalOcean's
//! limits instead of meeting 429s: 250 requests a minute per token, 10 GETs
//! a minute on `/v2/account/keys`, and 5,000 requests an hour, which
//! `ratelimit-remaining` counts down.

use std::collections::VecDeque;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};

use crate::cloud::policy::RateLimitHeaders;

const WINDOW: Duration = Duration::from_secs(60);

/// Limits the client keeps to, below DigitalOcean's own.
#[derive(Debug, Clone, PartialEq)]
pub struct BudgetConfig {
    /// Requests per rolling minute (the API allows 250).
    pub requests_per_minute: usize,
    /// `GET /v2/account/keys` per rolling minute (the API allows 10).
    pub ssh_key_lists_per_minute: usize,
    /// Below this `ratelimit-remaining`, requests are spread evenly over the
    /// time left until `ratelimit-reset`.
    pub low_remaining: u64,
    /// The maximum pause the spreading adds before one request.
    pub max_spread_pause: Duration,
}

impl Default for BudgetConfig {
    fn default() -> Self {
        Self {
            requests_per_minute: 240,
            ssh_key_lists_per_minute: 9,
            low_remaining: 50,
            max_spread_pause: Duration::from_secs(30),
        }
    }
}

/// The limits a request counts against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestKind {
    Ordinary,
    /// `GET /v2/account/keys`, which has its own, lower limit.
    SshKeyList,
}

/// The requests sent in the last minute and the latest rate-limit headers.
#[derive(Debug)]
pub struct RateBudget {
    config: BudgetConfig,
    sent: VecDeque<Timestamp>,
    key_lists: VecDeque<Timestamp>,
    remaining: Option<u64>,
    reset: Option<i64>,
}

impl RateBudget {
    pub fn new(config: BudgetConfig) -> Self {
        Self {
            config,
            sent: VecDeque::new(),
            key_lists: VecDeque::new(),
            remaining: None,
            reset: None,
        }
    }

    /// Reserve a slot for one request and return how long to wait before
    /// sending it. The slot is booked at `now + wait`, so concurrent callers
    /// queue behind each other.
    pub fn reserve(&mut self, now: Timestamp, kind: RequestKind) -> Duration {
        forget_before(&mut self.sent, now);
        forget_before(&mut self.key_lists, now);

        let mut wait = window_wait(&self.sent, self.config.requests_per_minute, now);
        if kind == RequestKind::SshKeyList {
            let keys_wait = window_wait(&self.key_lists, self.config.ssh_key_lists_per_minute, now);
            wait = wait.max(keys_wait);
        }
        wait = wait.max(self.spread_pause(now));

        let at = add(now, wait);
        self.sent.push_back(at);
        if kind == RequestKind::SshKeyList {
            self.key_lists.push_back(at);
        }
        if let Some(remaining) = self.remaining.as_mut() {
            *remaining = remaining.saturating_sub(1);
        }
        wait
    }

    /// Take in the rate-limit headers of a response. A 429 from the
    /// per-minute burst limit (it carries `retry-after`) reports
    /// `ratelimit-remaining: 0` even when the hour has requests left, so its
    /// count is not taken as the hourly one.
    pub fn observe(&mut self, limits: &RateLimitHeaders) {
        if limits.retry_after.is_some() {
            return;
        }
        if limits.remaining.is_some() {
            self.remaining = limits.remaining;
        }
        if limits.reset.is_some() {
            self.reset = limits.reset;
        }
    }

    /// When few requests remain this hour, spread them over the time left
    /// until the reset rather than spend them in a burst and meet 429s.
    fn spread_pause(&self, now: Timestamp) -> Duration {
        let Some(remaining) = self.remaining else {
            return Duration::ZERO;
        };
        if remaining >= self.config.low_remaining {
            return Duration::ZERO;
        }
        let until_reset = RateLimitHeaders {
            reset: self.reset,
            ..RateLimitHeaders::default()
        }
        .until_reset(now)
        .unwrap_or(Duration::ZERO);

        let share = u32::try_from(remaining.saturating_add(1)).unwrap_or(u32::MAX);
        (until_reset / share).min(self.config.max_spread_pause)
    }
}

fn forget_before(times: &mut VecDeque<Timestamp>, now: Timestamp) {
    let horizon = add_signed(
        now,
        -SignedDuration::try_from(WINDOW).unwrap_or(SignedDuration::ZERO),
    );
    while times.front().is_some_and(|time| *time <= horizon) {
        times.pop_front();
    }
}

/// Returns how long until `times` contains fewer than `limit` entries in the minute
/// before the send time.
fn window_wait(times: &VecDeque<Timestamp>, limit: usize, now: Timestamp) -> Duration {
    let limit = limit.max(1);
    if times.len() < limit {
        return Duration::ZERO;
    }
    let Some(blocking) = times.get(times.len() - limit) else {
        return Duration::ZERO;
    };
    let free_at = add(*blocking, WINDOW);
    Duration::try_from(free_at.duration_since(now)).unwrap_or(Duration::ZERO)
}

fn add(time: Timestamp, duration: Duration) -> Timestamp {
    add_signed(
        time,
        SignedDuration::try_from(duration).unwrap_or(SignedDuration::MAX),
    )
}

fn add_signed(time: Timestamp, duration: SignedDuration) -> Timestamp {
    time.saturating_add(duration).unwrap_or(time)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use jiff::Timestamp;

    use super::{BudgetConfig, RateBudget, RequestKind};
    use crate::cloud::policy::RateLimitHeaders;

    fn start() -> Timestamp {
        Timestamp::from_second(1_700_000_000).unwrap()
    }

    #[test]
    fn minute_budget_blocks_the_extra_request() {
        let mut budget = RateBudget::new(BudgetConfig::default());
        for _ in 0..240 {
            assert_eq!(
                budget.reserve(start(), RequestKind::Ordinary),
                Duration::ZERO
            );
        }
        assert_eq!(
            budget.reserve(start(), RequestKind::Ordinary),
            Duration::from_secs(60)
        );
    }

    #[test]
    fn ssh_key_lists_have_their_own_budget() {
        let mut budget = RateBudget::new(BudgetConfig::default());
        for _ in 0..9 {
            assert_eq!(
                budget.reserve(start(), RequestKind::SshKeyList),
                Duration::ZERO
            );
        }
        assert_eq!(
            budget.reserve(start(), RequestKind::Ordinary),
            Duration::ZERO
        );
        assert_eq!(
            budget.reserve(start(), RequestKind::SshKeyList),
            Duration::from_secs(60)
        );
    }

    #[test]
    fn low_remaining_spreads_requests() {
        let mut budget = RateBudget::new(BudgetConfig::default());
        budget.observe(&RateLimitHeaders {
            remaining: Some(9),
            reset: Some(1_700_000_100),
            ..RateLimitHeaders::default()
        });
        assert_eq!(
            budget.reserve(start(), RequestKind::Ordinary),
            Duration::from_secs(10)
        );

        budget.observe(&RateLimitHeaders {
            remaining: Some(0),
            reset: Some(1_700_003_600),
            ..RateLimitHeaders::default()
        });
        assert_eq!(
            budget.reserve(start(), RequestKind::Ordinary),
            Duration::from_secs(30)
        );

        budget.observe(&RateLimitHeaders {
            remaining: Some(0),
            reset: Some(1_600_000_000),
            ..RateLimitHeaders::default()
        });
        assert_eq!(
            budget.reserve(start(), RequestKind::Ordinary),
            Duration::ZERO
        );
    }

    #[test]
    fn burst_429_keeps_hourly_count() {
        let mut budget = RateBudget::new(BudgetConfig::default());
        budget.observe(&RateLimitHeaders {
            remaining: Some(4000),
            reset: Some(1_700_003_600),
            ..RateLimitHeaders::default()
        });
        budget.observe(&RateLimitHeaders {
            remaining: Some(0),
            reset: Some(1_700_003_600),
            retry_after: Some(Duration::from_secs(1)),
            ..RateLimitHeaders::default()
        });
        assert_eq!(
            budget.reserve(start(), RequestKind::Ordinary),
            Duration::ZERO
        );
    }
}
