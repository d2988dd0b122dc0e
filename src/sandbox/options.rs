//! Options of `sandbox up` and `sandbox serve`: `up` passes them on to the
//! daemon it starts.

use std::ffi::OsString;
use std::net::SocketAddr;
use std::time::Duration;

use crate::sandbox::duration;
use crate::sandbox::faults::FaultSpec;
use crate::sandbox::settings::Settings;

#[derive(Clone, Debug, clap::Args)]
pub struct ServeOptions {
    /// Emulate the API only: droplets get no lab hosts, and no root is needed.
    #[arg(long)]
    pub api_only: bool,

    /// TCP port of the API on 127.0.0.1 [default: a free port].
    #[arg(long, value_name = "PORT")]
    pub port: Option<u16>,

    /// Address of the DNS server (UDP and TCP) [default: 127.0.0.1 on a free port].
    #[arg(long, value_name = "ADDRESS:PORT")]
    pub dns: Option<SocketAddr>,

    /// Base URL written into pagination links, such as a validating proxy's
    /// [default: http:// and the request's Host header].
    #[arg(long, value_name = "URL")]
    pub public_url: Option<String>,

    /// Faults injected into every account that sets none of its own, such
    /// as `429=0.2,5xx=0.1,reset=0.05,lost=0.01,latency=200ms,no-ip=NAME,error-action=TYPE,error-droplet=ID`.
    #[arg(long, value_name = "SPEC", value_parser = parse_faults)]
    pub faults: Option<FaultSpec>,

    /// Seed of the fault RNGs, for repeatable fault sequences.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub fault_seed: u64,

    /// Factor applied to boot times, address delays and action durations
    /// (0.05 makes a 30 s boot last 1.5 s).
    #[arg(long, value_name = "FACTOR", default_value_t = 1.0, value_parser = parse_time_scale)]
    pub time_scale: f64,

    /// Time from a droplet create until it is `active`, before scaling.
    #[arg(long, value_name = "DURATION", value_parser = duration::parse)]
    pub boot_time: Option<Duration>,

    /// Time from `active` until the droplet's addresses appear, before scaling.
    #[arg(long, value_name = "DURATION", value_parser = duration::parse)]
    pub ip_delay: Option<Duration>,

    /// Time a droplet action stays `in-progress`, before scaling.
    #[arg(long, value_name = "DURATION", value_parser = duration::parse)]
    pub action_duration: Option<Duration>,

    /// API requests per minute and account before 429 (DigitalOcean: 250).
    #[arg(long, value_name = "N")]
    pub rate_limit: Option<u32>,
}

impl ServeOptions {
    /// Return the default settings of every account.
    pub fn settings(&self) -> Settings {
        let defaults = Settings::default();
        Settings {
            boot_time: self.boot_time.unwrap_or(defaults.boot_time),
            ip_delay: self.ip_delay.unwrap_or(defaults.ip_delay),
            action_duration: self.action_duration.unwrap_or(defaults.action_duration),
            rate_limit_per_minute: self
                .rate_limit
                .unwrap_or(defaults.rate_limit_per_minute)
                .max(1),
            rate_limit_per_hour: defaults.rate_limit_per_hour,
            next_public_address: None,
            hostless_droplets: false,
            droplet_limit: defaults.droplet_limit,
        }
    }

    /// These options as `sandbox serve` arguments.
    pub fn to_args(&self) -> Vec<OsString> {
        let mut args: Vec<String> = Vec::new();
        if self.api_only {
            args.push("--api-only".into());
        }
        if let Some(port) = self.port {
            args.extend(["--port".into(), port.to_string()]);
        }
        if let Some(dns) = self.dns {
            args.extend(["--dns".into(), dns.to_string()]);
        }
        if let Some(url) = &self.public_url {
            args.extend(["--public-url".into(), url.clone()]);
        }
        if let Some(faults) = &self.faults {
            args.extend(["--faults".into(), faults.to_string()]);
        }
        args.extend(["--fault-seed".into(), self.fault_seed.to_string()]);
        args.extend(["--time-scale".into(), self.time_scale.to_string()]);
        for (flag, value) in [
            ("--boot-time", self.boot_time),
            ("--ip-delay", self.ip_delay),
            ("--action-duration", self.action_duration),
        ] {
            if let Some(value) = value {
                args.extend([flag.into(), duration::format(value)]);
            }
        }
        if let Some(limit) = self.rate_limit {
            args.extend(["--rate-limit".into(), limit.to_string()]);
        }
        args.into_iter().map(OsString::from).collect()
    }
}

fn parse_faults(text: &str) -> Result<FaultSpec, String> {
    if text == "none" {
        return Ok(FaultSpec::default());
    }
    FaultSpec::parse(text)
}

fn parse_time_scale(text: &str) -> Result<f64, String> {
    let scale: f64 = text
        .parse()
        .map_err(|_| format!("`{text}` is not a number"))?;
    if scale.is_finite() && scale > 0.0 && scale <= 1.0 {
        Ok(scale)
    } else {
        Err(format!(
            "the time scale must be above 0 and at most 1, not {text}"
        ))
    }
}
