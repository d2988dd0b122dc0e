//! The lab's status: the bridge, the git daemon, and each host with its
//! droplet id, name, address, power state and services.

use std::fmt::Write;
use std::net::Ipv4Addr;

use serde::Serialize;

use super::git;
use super::host;
use super::host_folder::STANDIN_BINARY;
use super::layout::LabLayout;
use super::network;
use super::record::{self, LabRecord, Power};
use super::systemctl::status::ServiceState;

#[derive(Clone, Debug, Serialize)]
pub struct LabStatus {
    pub dir: String,
    pub bridge_up: bool,
    pub git_daemon_pid: Option<u32>,
    pub hosts: Vec<HostStatus>,
}

#[derive(Clone, Debug, Serialize)]
pub struct HostStatus {
    pub droplet_id: u64,
    pub name: String,
    pub address: Ipv4Addr,
    /// `on`, `off`, or `dead` when its PID 1 no longer runs.
    pub power: String,
    pub services: Vec<ServiceState>,
}

/// Collect the lab's status. Service states come from each host's
/// `systemctl` stand-in, and a host whose stand-in fails lists none.
pub fn collect(layout: &LabLayout) -> LabStatus {
    let git_daemon_pid = record::read::<LabRecord>(&layout.marker())
        .ok()
        .and_then(|lab| lab.git_daemon_pid)
        .filter(|pid| git::is_daemon(layout, *pid));
    let hosts = host::all_records(layout)
        .into_iter()
        .map(|record| {
            let alive = host::is_alive(layout, &record);
            let power = match (alive, record.power) {
                (false, _) => "dead",
                (true, Power::On) => "on",
                (true, Power::Off) => "off",
            };
            let services = if alive { services(&record) } else { Vec::new() };
            HostStatus {
                droplet_id: record.droplet_id,
                name: record.name,
                address: record.address,
                power: power.to_string(),
                services,
            }
        })
        .collect();
    LabStatus {
        dir: layout.root().display().to_string(),
        bridge_up: network::bridge_exists(),
        git_daemon_pid,
        hosts,
    }
}

fn services(record: &record::HostRecord) -> Vec<ServiceState> {
    let argv = [STANDIN_BINARY, "sandbox", "lab", "services"].map(str::to_string);
    let Ok(mut command) = host::command_in_host(record, &argv) else {
        return Vec::new();
    };
    let Ok(output) = command.output() else {
        return Vec::new();
    };
    serde_json::from_slice(&output.stdout).unwrap_or_default()
}

impl LabStatus {
    /// Format a table for people: one line per host, with its services' states.
    pub fn to_text(&self) -> String {
        let mut text = String::new();
        let bridge = if self.bridge_up { "up" } else { "down" };
        let daemon = self
            .git_daemon_pid
            .map_or("not running".to_string(), |pid| {
                format!("running (pid {pid})")
            });
        let _ = writeln!(text, "lab folder: {}", self.dir);
        let _ = writeln!(text, "bridge: {bridge}; git daemon: {daemon}");
        if self.hosts.is_empty() {
            let _ = writeln!(text, "no hosts");
        }
        for host in &self.hosts {
            let services: Vec<String> = host
                .services
                .iter()
                .map(|service| {
                    format!(
                        "{}={}",
                        service.unit.trim_end_matches(".service"),
                        service.state
                    )
                })
                .collect();
            let _ = writeln!(
                text,
                "{:>10}  {:<20} {:<15} {:<4} {}",
                host.droplet_id,
                host.name,
                host.address,
                host.power,
                services.join(" ")
            );
        }
        text
    }
}
