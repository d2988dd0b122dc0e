//! When the client retries a request and how long it waits first.
//!
//! - 429: wait for `retry-after`, else until `ratelimit-reset`; a reset in
//!   the past, missing or unreadable gives a short backoff instead. Any
//!   method is retried, because the API rejected the request unprocessed.
//! - 5xx and connection errors: capped exponential backoff with jitter, for
//!   GET, PUT, PATCH and DELETE, and for POSTs whose repeat changes nothing
//!   (tags). A PATCH sets the fields it names to the values it carries, so
//!   sending it twice leaves the same record.
//!   Another POST may have taken effect, so its caller looks up the object
//!   it would have created and adopts it. It posts again only when nothing
//!   is found (see `adoption.rs`). Droplet creation has its own lookup.
//! - 422 "pending event": the droplet is busy with another action; any
//!   method is retried with backoff.

use std::time::Duration;

use jiff::Timestamp;
use reqwest::Method;
use reqwest::header::HeaderMap;

/// The retry policy of a [`crate::cloud::CloudClient`].
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Attempts in all for a GET, PUT, PATCH or DELETE that meets a 5xx or a
    /// connection error, and POSTs in all for a create or action that fails
    /// that way with nothing to adopt.
    pub max_attempts: u32,
    /// Retries of a 429 before the request fails.
    pub max_rate_limit_retries: u32,
    /// Retries of a 422 "pending event" before the request fails.
    pub max_busy_retries: u32,
    /// The first backoff; each retry doubles it.
    pub base_delay: Duration,
    /// The maximum backoff.
    pub max_delay: Duration,
    /// The maximum wait for a rate limit to reset. Past it the client tries
    /// again anyway, and fails once its retries are spent.
    pub max_rate_limit_wait: Duration,
    /// Whether backoffs are spread at random over `[delay / 2, delay]`, so
    /// that several clients do not retry in step.
    pub jitter: bool,
    /// How long one request may take before it counts as timed out.
    pub request_timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 5,
            max_rate_limit_retries: 5,
            max_busy_retries: 8,
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(30),
            max_rate_limit_wait: Duration::from_secs(120),
            jitter: true,
            request_timeout: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// Returns the backoff before retry number `retry` (1 for the first retry).
    pub fn backoff(&self, retry: u32) -> Duration {
        let exponent = retry.saturating_sub(1).min(20);
        let delay = self
            .base_delay
            .saturating_mul(1u32 << exponent)
            .min(self.max_delay);
        if self.jitter {
            delay.mul_f64(rand::random_range(0.5..=1.0))
        } else {
            delay
        }
    }

    /// Returns the wait before retrying a 429, never negative and never longer than
    /// `max_rate_limit_wait`.
    pub fn rate_limit_wait(
        &self,
        limits: &RateLimitHeaders,
        now: Timestamp,
        retry: u32,
    ) -> Duration {
        if let Some(retry_after) = limits.retry_after {
            return retry_after.min(self.max_rate_limit_wait);
        }
        match limits.until_reset(now) {
            Some(wait) => wait.min(self.max_rate_limit_wait),
            None => self.backoff(retry),
        }
    }

    /// Returns whether a 5xx or a connection error may be retried for `method`.
    pub fn retries_transient(method: &Method) -> bool {
        matches!(
            *method,
            Method::GET | Method::PUT | Method::PATCH | Method::DELETE | Method::HEAD
        )
    }
}

/// The rate-limit headers of one response.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RateLimitHeaders {
    /// `ratelimit-limit`: requests allowed per hour.
    pub limit: Option<u64>,
    /// `ratelimit-remaining`: requests left.
    pub remaining: Option<u64>,
    /// `ratelimit-reset`: Unix seconds when the oldest counted request expires.
    pub reset: Option<i64>,
    /// `retry-after`, sent with a 429 from the per-minute burst limit.
    pub retry_after: Option<Duration>,
}

impl RateLimitHeaders {
    /// Read the headers; a header that is missing or unreadable is `None`.
    pub fn parse(headers: &HeaderMap, now: Timestamp) -> Self {
        let text = |name: &str| headers.get(name).and_then(|value| value.to_str().ok());
        let number = |name: &str| text(name).and_then(|value| value.trim().parse::<u64>().ok());

        Self {
            limit: number("ratelimit-limit"),
            remaining: number("ratelimit-remaining"),
            reset: text("ratelimit-reset").and_then(|value| value.trim().parse::<i64>().ok()),
            retry_after: text("retry-after").and_then(|value| parse_retry_after(value, now)),
        }
    }

    /// Returns the time until `ratelimit-reset`, or `None` when the reset is missing
    /// or not in the future. A reset centuries ahead gives a long duration
    /// that callers clamp.
    pub fn until_reset(&self, now: Timestamp) -> Option<Duration> {
        let seconds = self.reset?.saturating_sub(now.as_second());
        (seconds > 0).then(|| Duration::from_secs(seconds.unsigned_abs()))
    }
}

/// `retry-after` is either seconds or an HTTP date (RFC 9110); a date in the
/// past means no wait.
fn parse_retry_after(value: &str, now: Timestamp) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }

    static PARSER: jiff::fmt::rfc2822::DateTimeParser = jiff::fmt::rfc2822::DateTimeParser::new();
    let date = PARSER.parse_timestamp(value).ok()?;
    let seconds = date.as_second().saturating_sub(now.as_second()).max(0);
    Some(Duration::from_secs(seconds.unsigned_abs()))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use jiff::Timestamp;
    use reqwest::header::{HeaderMap, HeaderValue};

    use super::{RateLimitHeaders, RetryPolicy};

    fn policy() -> RetryPolicy {
        RetryPolicy {
            jitter: false,
            ..RetryPolicy::default()
        }
    }

    fn now() -> Timestamp {
        Timestamp::from_second(1_700_000_000).unwrap()
    }

    #[test]
    fn transient_errors_are_retried_only_for_repeatable_methods() {
        use reqwest::Method;
        for method in [Method::GET, Method::PUT, Method::PATCH, Method::DELETE] {
            assert!(RetryPolicy::retries_transient(&method), "{method}");
        }
        assert!(!RetryPolicy::retries_transient(&Method::POST));
    }

    #[test]
    fn backoff_doubles_up_to_cap() {
        let policy = policy();
        let waits: Vec<u64> = (1..=8)
            .map(|retry| policy.backoff(retry).as_secs())
            .collect();
        assert_eq!(waits, vec![1, 2, 4, 8, 16, 30, 30, 30]);
        assert_eq!(policy.backoff(u32::MAX), Duration::from_secs(30));
    }

    #[test]
    fn backoff_jitter_stays_in_bounds() {
        let policy = RetryPolicy::default();
        for _ in 0..200 {
            let wait = policy.backoff(3);
            assert!(wait >= Duration::from_secs(2), "{wait:?}");
            assert!(wait <= Duration::from_secs(4), "{wait:?}");
        }
    }

    #[test]
    fn rate_limit_wait_cases() {
        let policy = policy();
        let with_reset = |offset: i64| RateLimitHeaders {
            reset: Some(1_700_000_000 + offset),
            ..RateLimitHeaders::default()
        };

        let retry_after = RateLimitHeaders {
            retry_after: Some(Duration::from_secs(7)),
            ..with_reset(90)
        };
        assert_eq!(
            policy.rate_limit_wait(&retry_after, now(), 1),
            Duration::from_secs(7)
        );
        assert_eq!(
            policy.rate_limit_wait(&with_reset(45), now(), 1),
            Duration::from_secs(45)
        );
        assert_eq!(
            policy.rate_limit_wait(&with_reset(-1500), now(), 1),
            Duration::from_secs(1)
        );
        assert_eq!(
            policy.rate_limit_wait(&with_reset(-1500), now(), 3),
            Duration::from_secs(4)
        );
        assert_eq!(
            policy.rate_limit_wait(&with_reset(i64::MAX / 2), now(), 1),
            Duration::from_secs(120)
        );
        assert_eq!(
            policy.rate_limit_wait(&RateLimitHeaders::default(), now(), 2),
            Duration::from_secs(2)
        );
    }

    #[test]
    fn headers_parse_seconds_and_dates() {
        let mut headers = HeaderMap::new();
        headers.insert("ratelimit-remaining", HeaderValue::from_static("0"));
        headers.insert("ratelimit-reset", HeaderValue::from_static("1699998500"));
        headers.insert(
            "retry-after",
            HeaderValue::from_static("Tue, 14 Nov 2023 22:14:20 GMT"),
        );
        let limits = RateLimitHeaders::parse(&headers, now());
        assert_eq!(limits.remaining, Some(0));
        assert_eq!(limits.reset, Some(1_699_998_500));
        assert_eq!(limits.retry_after, Some(Duration::from_secs(60)));
        assert_eq!(limits.until_reset(now()), None);

        headers.insert("retry-after", HeaderValue::from_static("not a number"));
        assert_eq!(RateLimitHeaders::parse(&headers, now()).retry_after, None);
    }
}
