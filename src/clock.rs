//! Time as wwctl waits for it: real by default, faster in the sandbox,
//! instant in tests.
//!
//! Timestamps are always real (they go into journals other processes read).
//! Only waits change: a scaled clock sleeps `duration * scale` and reports
//! the same scaled length when it computes a deadline.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};

pub type Sleep = Pin<Box<dyn Future<Output = ()> + Send>>;

/// The source of time for every wait wwctl makes: retries, polls, TTL waits.
pub trait Clock: Send + Sync + fmt::Debug {
    /// Returns the current time.
    fn now(&self) -> Timestamp;

    /// Returns how long a wait of `duration` really lasts on this clock.
    fn scaled(&self, duration: Duration) -> Duration;

    /// Wait for `duration`, scaled.
    fn sleep(&self, duration: Duration) -> Sleep;

    /// Wait for `duration` of real time whatever the scale, for limits the
    /// outside world sets, such as an API's rate limit. Test clocks still
    /// return at once.
    fn sleep_unscaled(&self, duration: Duration) -> Sleep {
        self.sleep(duration)
    }

    /// Returns the time at which a wait of `duration` starting now ends.
    fn deadline(&self, duration: Duration) -> Timestamp {
        let scaled = SignedDuration::try_from(self.scaled(duration)).unwrap_or(SignedDuration::MAX);
        self.now().saturating_add(scaled).unwrap_or(Timestamp::MAX)
    }
}

/// Real time: every wait lasts as long as asked.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }

    fn scaled(&self, duration: Duration) -> Duration {
        duration
    }

    fn sleep(&self, duration: Duration) -> Sleep {
        Box::pin(tokio::time::sleep(duration))
    }
}

/// Real time with shorter waits, for the sandbox: a scale of 0.01 makes a
/// 60 s TTL wait last 0.6 s.
#[derive(Clone, Copy, Debug)]
pub struct ScaledClock {
    scale: f64,
}

impl ScaledClock {
    /// The environment variable the sandbox sets to speed up waits.
    pub const ENV: &'static str = "WWCTL_TIME_SCALE";

    /// Creates a clock whose waits last `scale` times as long. `scale` is
    /// clamped to (0, 1], so a mistake can shorten waits but never lengthen them.
    pub fn new(scale: f64) -> Self {
        let scale = if scale.is_finite() && scale > 0.0 {
            scale.min(1.0)
        } else {
            1.0
        };
        Self { scale }
    }

    pub fn scale(&self) -> f64 {
        self.scale
    }
}

impl Clock for ScaledClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }

    fn scaled(&self, duration: Duration) -> Duration {
        duration.mul_f64(self.scale)
    }

    fn sleep(&self, duration: Duration) -> Sleep {
        Box::pin(tokio::time::sleep(self.scaled(duration)))
    }

    fn sleep_unscaled(&self, duration: Duration) -> Sleep {
        Box::pin(tokio::time::sleep(duration))
    }
}

/// A clock for tests: waits return at once and move its time forward, so a
/// test can check the waits a run would make without making them.
#[derive(Debug)]
pub struct ManualClock {
    now: Mutex<Timestamp>,
    slept: Mutex<Vec<Duration>>,
}

impl ManualClock {
    pub fn new(start: Timestamp) -> Self {
        Self {
            now: Mutex::new(start),
            slept: Mutex::new(Vec::new()),
        }
    }

    /// Returns every wait requested so far, in order.
    pub fn sleeps(&self) -> Vec<Duration> {
        self.slept.lock().expect("clock lock").clone()
    }

    pub fn advance(&self, duration: Duration) {
        let mut now = self.now.lock().expect("clock lock");
        let step = SignedDuration::try_from(duration).unwrap_or(SignedDuration::MAX);
        *now = now.saturating_add(step).unwrap_or(Timestamp::MAX);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        *self.now.lock().expect("clock lock")
    }

    fn scaled(&self, duration: Duration) -> Duration {
        duration
    }

    fn sleep(&self, duration: Duration) -> Sleep {
        self.slept.lock().expect("clock lock").push(duration);
        self.advance(duration);
        Box::pin(std::future::ready(()))
    }
}

/// Returns the clock a command uses: scaled when `WWCTL_TIME_SCALE` is set
/// (the sandbox sets it), real otherwise.
pub fn from_env() -> std::sync::Arc<dyn Clock> {
    match std::env::var(ScaledClock::ENV)
        .ok()
        .and_then(|text| text.parse::<f64>().ok())
    {
        Some(scale) if scale < 1.0 => std::sync::Arc::new(ScaledClock::new(scale)),
        _ => std::sync::Arc::new(SystemClock),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::{Clock, ManualClock, ScaledClock};

    #[test]
    fn scaled_clock_never_lengthens_waits() {
        assert_eq!(ScaledClock::new(5.0).scale(), 1.0);
        assert_eq!(ScaledClock::new(-1.0).scale(), 1.0);
        assert_eq!(
            ScaledClock::new(0.01).scaled(Duration::from_secs(60)),
            Duration::from_millis(600)
        );
    }

    #[tokio::test]
    async fn manual_clock_records_and_advances() {
        let start = jiff::Timestamp::from_second(1_000).unwrap();
        let clock = ManualClock::new(start);
        clock.sleep(Duration::from_secs(30)).await;
        assert_eq!(clock.now(), jiff::Timestamp::from_second(1_030).unwrap());
        assert_eq!(clock.sleeps(), vec![Duration::from_secs(30)]);
    }
}
