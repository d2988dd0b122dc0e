//! Injected faults: rates of 429s, server errors and dropped connections,
//! added latency, droplets that never get an address and actions that fail.
//!
//! A fault set is written as `429=0.2,5xx=0.1,reset=0.05,latency=200ms` on
//! the command line and as a JSON object in the admin API. Draws come from a
//! seeded RNG per account, so a test that sends the same requests meets the
//! same faults.

use std::fmt;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde::{Deserialize, Serialize};

use crate::sandbox::duration;

/// The faults applied to an account's requests and droplets.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FaultSpec {
    /// Share of requests rejected with 429 before they are processed.
    pub rate_429: f64,
    /// Share of requests failed with 500 or 503 before they are processed.
    pub rate_5xx: f64,
    /// Share of requests whose connection is closed, unprocessed, with no
    /// response.
    pub rate_reset: f64,
    /// Share of requests that are processed but whose connection is then
    /// closed with no answer, so the client cannot tell whether they worked.
    pub rate_lost: f64,
    /// Delay added before every request is handled.
    #[serde(with = "duration::text")]
    pub latency: Duration,
    /// Droplet names (case-insensitive) that never get an address.
    pub no_ip: Vec<String>,
    /// Action types (`create`, `snapshot`, `power_off`, ...) that end `errored`.
    pub error_actions: Vec<String>,
    /// Droplet ids whose actions all end `errored`.
    pub error_droplets: Vec<u64>,
    /// Seed of the account's fault RNG; set it to replay the same draws.
    pub seed: Option<u64>,
}

/// The fault drawn for one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    None,
    TooManyRequests,
    ServerError(u16),
    Reset,
    Lost,
}

impl FaultSpec {
    /// Parse the command-line form: comma-separated `key=value` items.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut spec = FaultSpec::default();
        for item in text
            .split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty())
        {
            let (key, value) = item.split_once('=').ok_or_else(|| {
                format!("invalid fault `{item}`: expected KEY=VALUE, such as `429=0.2`")
            })?;
            spec.set(key.trim(), value.trim())?;
        }
        spec.check()?;
        Ok(spec)
    }

    fn set(&mut self, key: &str, value: &str) -> Result<(), String> {
        match key {
            "429" => self.rate_429 = parse_rate(key, value)?,
            "5xx" => self.rate_5xx = parse_rate(key, value)?,
            "reset" => self.rate_reset = parse_rate(key, value)?,
            "lost" => self.rate_lost = parse_rate(key, value)?,
            "latency" => {
                self.latency =
                    duration::parse(value).map_err(|error| format!("latency: {error}"))?
            }
            "no-ip" => self.no_ip.push(value.to_string()),
            "error-action" => self.error_actions.push(value.to_string()),
            "error-droplet" => self.error_droplets.push(value.parse().map_err(|_| {
                format!("invalid fault `error-droplet={value}`: expected a droplet id")
            })?),
            "seed" => {
                self.seed = Some(value.parse().map_err(|_| {
                    format!("invalid fault `seed={value}`: expected an unsigned integer")
                })?)
            }
            _ => {
                return Err(format!(
                    "unknown fault `{key}`: use 429, 5xx, reset, lost, latency, no-ip, \
                     error-action, error-droplet or seed"
                ));
            }
        }
        Ok(())
    }

    /// Check that the rates are probabilities whose sum is at most 1.
    pub fn check(&self) -> Result<(), String> {
        let rates = [
            self.rate_429,
            self.rate_5xx,
            self.rate_reset,
            self.rate_lost,
        ];
        if rates.iter().any(|rate| !(0.0..=1.0).contains(rate)) {
            return Err("fault rates must be between 0 and 1".to_string());
        }
        if rates.iter().sum::<f64>() > 1.0 + f64::EPSILON {
            return Err("the fault rates add up to more than 1".to_string());
        }
        Ok(())
    }

    pub fn is_empty(&self) -> bool {
        *self == FaultSpec::default()
    }

    /// Draw the fault for one request.
    pub fn draw(&self, rng: &mut StdRng) -> Fault {
        let total = self.rate_429 + self.rate_5xx + self.rate_reset + self.rate_lost;
        if total <= 0.0 {
            return Fault::None;
        }

        let draw: f64 = rng.random();
        let mut bound = self.rate_429;
        if draw < bound {
            return Fault::TooManyRequests;
        }
        bound += self.rate_5xx;
        if draw < bound {
            let status = if rng.random_bool(0.5) { 500 } else { 503 };
            return Fault::ServerError(status);
        }
        bound += self.rate_reset;
        if draw < bound {
            return Fault::Reset;
        }
        bound += self.rate_lost;
        if draw < bound {
            return Fault::Lost;
        }
        Fault::None
    }

    /// Check whether a droplet of this name never gets its addresses.
    pub fn withholds_address(&self, droplet_name: &str) -> bool {
        self.no_ip
            .iter()
            .any(|name| name.eq_ignore_ascii_case(droplet_name))
    }

    /// Check whether an action of this type on this droplet must end `errored`.
    pub fn fails_action(&self, action_type: &str, droplet_id: u64) -> bool {
        self.error_actions.iter().any(|kind| kind == action_type)
            || self.error_droplets.contains(&droplet_id)
    }
}

/// Seed an account's RNG: the same seed and account give the same draws.
pub fn account_rng(seed: u64, account: &str) -> StdRng {
    let mut mixed = seed;
    for byte in account.bytes() {
        mixed = mixed.rotate_left(5) ^ u64::from(byte);
        mixed = mixed.wrapping_mul(0x100_0000_01b3);
    }
    StdRng::seed_from_u64(mixed)
}

fn parse_rate(key: &str, value: &str) -> Result<f64, String> {
    value
        .parse::<f64>()
        .ok()
        .filter(|rate| (0.0..=1.0).contains(rate))
        .ok_or_else(|| format!("invalid fault `{key}={value}`: expected a rate between 0 and 1"))
}

impl fmt::Display for FaultSpec {
    /// Write the command-line form, which `parse` reads back, or `none` when
    /// empty.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut items = Vec::new();
        for (key, rate) in [
            ("429", self.rate_429),
            ("5xx", self.rate_5xx),
            ("reset", self.rate_reset),
            ("lost", self.rate_lost),
        ] {
            if rate > 0.0 {
                items.push(format!("{key}={rate}"));
            }
        }
        if !self.latency.is_zero() {
            items.push(format!("latency={}", duration::format(self.latency)));
        }
        items.extend(self.no_ip.iter().map(|name| format!("no-ip={name}")));
        items.extend(
            self.error_actions
                .iter()
                .map(|kind| format!("error-action={kind}")),
        );
        items.extend(
            self.error_droplets
                .iter()
                .map(|id| format!("error-droplet={id}")),
        );
        if let Some(seed) = self.seed {
            items.push(format!("seed={seed}"));
        }

        if items.is_empty() {
            f.write_str("none")
        } else {
            f.write_str(&items.join(","))
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::{Fault, FaultSpec, account_rng};

    #[test]
    fn parse_reads_every_key() {
        let spec = FaultSpec::parse(
            "429=0.2,5xx=0.1,reset=0.05,latency=200ms,no-ip=web-1,error-action=snapshot,seed=7",
        )
        .unwrap();
        assert_eq!(spec.rate_429, 0.2);
        assert_eq!(spec.rate_5xx, 0.1);
        assert_eq!(spec.rate_reset, 0.05);
        assert_eq!(spec.latency, Duration::from_millis(200));
        assert_eq!(spec.no_ip, vec!["web-1".to_string()]);
        assert_eq!(spec.error_actions, vec!["snapshot".to_string()]);
        assert_eq!(spec.seed, Some(7));
    }

    #[test]
    fn parse_rejects_bad_items() {
        assert!(FaultSpec::parse("429").unwrap_err().contains("KEY=VALUE"));
        assert!(
            FaultSpec::parse("429=2")
                .unwrap_err()
                .contains("between 0 and 1")
        );
        assert!(
            FaultSpec::parse("teapot=0.1")
                .unwrap_err()
                .contains("unknown fault")
        );
        assert!(
            FaultSpec::parse("429=0.6,5xx=0.6")
                .unwrap_err()
                .contains("more than 1")
        );
    }

    #[test]
    fn display_round_trips() {
        let text = "429=0.2,5xx=0.1,latency=200ms,no-ip=db,error-droplet=12,seed=3";
        let spec = FaultSpec::parse(text).unwrap();
        assert_eq!(spec.to_string(), text);
        assert_eq!(FaultSpec::default().to_string(), "none");
    }

    #[test]
    fn draws_repeat_for_the_same_seed() {
        let spec = FaultSpec::parse("429=0.3,5xx=0.3").unwrap();
        let draw = |seed| {
            let mut rng = account_rng(seed, "account");
            (0..50).map(|_| spec.draw(&mut rng)).collect::<Vec<_>>()
        };
        assert_eq!(draw(1), draw(1));
        assert!(draw(1).contains(&Fault::TooManyRequests));
        assert!(draw(1).contains(&Fault::None));
    }
}
