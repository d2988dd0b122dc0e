//! DigitalOcean's request limits: an hourly budget in which each request
//! counts for one hour from when it was made, and a per-minute burst limit.
//!
//! `ratelimit-limit` is the hourly limit, `ratelimit-remaining` what is left
//! of it, and `ratelimit-reset` the Unix time at which the oldest counted
//! request expires. A burst 429 carries `retry-after` in seconds.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

const HOUR: Duration = Duration::from_secs(3600);
const MINUTE: Duration = Duration::from_secs(60);

/// The `ratelimit-*` header values of one response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateHeaders {
    pub limit: u32,
    pub remaining: u32,
    pub reset: i64,
}

/// The outcome of counting one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admission {
    Allowed(RateHeaders),
    /// Refused; `retry_after` is set for the burst limit only.
    Limited {
        headers: RateHeaders,
        retry_after: Option<u64>,
    },
}

/// The requests an account made in the last hour.
#[derive(Debug, Default)]
pub struct RequestWindow {
    hour: VecDeque<Instant>,
}

impl RequestWindow {
    /// Count a request made at `now`, unless it exceeds a limit.
    pub fn admit(&mut self, now: Instant, per_minute: u32, per_hour: u32) -> Admission {
        self.expire(now);

        let in_last_minute = self
            .hour
            .iter()
            .rev()
            .take_while(|made| now.duration_since(**made) < MINUTE)
            .count();
        if in_last_minute >= per_minute as usize {
            let oldest = self.hour[self.hour.len() - in_last_minute];
            let wait = MINUTE.saturating_sub(now.duration_since(oldest));
            return Admission::Limited {
                headers: self.headers(now, per_hour, true),
                retry_after: Some(wait.as_secs_f64().ceil().max(1.0) as u64),
            };
        }
        if self.hour.len() >= per_hour as usize {
            return Admission::Limited {
                headers: self.headers(now, per_hour, true),
                retry_after: None,
            };
        }

        self.hour.push_back(now);
        Admission::Allowed(self.headers(now, per_hour, false))
    }

    /// Return the headers of a response that counted no request.
    pub fn peek(&mut self, now: Instant, per_hour: u32) -> RateHeaders {
        self.expire(now);
        self.headers(now, per_hour, false)
    }

    fn expire(&mut self, now: Instant) {
        while self
            .hour
            .front()
            .is_some_and(|made| now.duration_since(*made) >= HOUR)
        {
            self.hour.pop_front();
        }
    }

    fn headers(&self, now: Instant, per_hour: u32, exhausted: bool) -> RateHeaders {
        let remaining = if exhausted {
            0
        } else {
            per_hour.saturating_sub(self.hour.len() as u32)
        };
        let until_reset = self
            .hour
            .front()
            .map(|oldest| HOUR.saturating_sub(now.duration_since(*oldest)))
            .unwrap_or_default();
        RateHeaders {
            limit: per_hour,
            remaining,
            reset: jiff::Timestamp::now().as_second() + until_reset.as_secs() as i64,
        }
    }
}

/// A limit on one kind of request, such as listing SSH keys (10 a minute).
#[derive(Debug, Default)]
pub struct MinuteWindow {
    made: VecDeque<Instant>,
}

impl MinuteWindow {
    /// Count a request, or return the seconds to wait when `limit` requests
    /// were made in the last minute.
    pub fn admit(&mut self, now: Instant, limit: u32) -> Result<(), u64> {
        while self
            .made
            .front()
            .is_some_and(|made| now.duration_since(*made) >= MINUTE)
        {
            self.made.pop_front();
        }
        if let Some(oldest) = self.made.front()
            && self.made.len() >= limit as usize
        {
            let wait = MINUTE.saturating_sub(now.duration_since(*oldest));
            return Err(wait.as_secs_f64().ceil().max(1.0) as u64);
        }
        self.made.push_back(now);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::{Admission, MinuteWindow, RequestWindow};

    #[test]
    fn burst_limit_refuses_with_retry_after() {
        let mut window = RequestWindow::default();
        let start = Instant::now();
        for _ in 0..3 {
            assert!(matches!(window.admit(start, 3, 100), Admission::Allowed(_)));
        }
        let Admission::Limited {
            headers,
            retry_after,
        } = window.admit(start + Duration::from_secs(20), 3, 100)
        else {
            panic!("the fourth request in a minute must be limited");
        };
        assert_eq!(retry_after, Some(40));
        assert_eq!(headers.remaining, 0);
        assert!(matches!(
            window.admit(start + Duration::from_secs(61), 3, 100),
            Admission::Allowed(_)
        ));
    }

    #[test]
    fn remaining_counts_down_the_hour() {
        let mut window = RequestWindow::default();
        let now = Instant::now();
        let Admission::Allowed(headers) = window.admit(now, 250, 5000) else {
            panic!("the first request must pass");
        };
        assert_eq!(headers.limit, 5000);
        assert_eq!(headers.remaining, 4999);
    }

    #[test]
    fn minute_window_limits_one_kind() {
        let mut window = MinuteWindow::default();
        let now = Instant::now();
        for _ in 0..10 {
            assert_eq!(window.admit(now, 10), Ok(()));
        }
        assert_eq!(window.admit(now, 10), Err(60));
    }
}
