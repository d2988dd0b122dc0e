//! The lab network: a bridge on the machine with 10.77.0.1/16, and one
//! network namespace per host joined to it by a veth pair.
//!
//! Hosts get no default route and the machine does no NAT for them, so lab
//! traffic stays on the bridge. IPv6 is off on every lab link.

use std::fs;
use std::net::Ipv4Addr;
use std::path::Path;

use anyhow::Context;

use super::command::{run_args, stdout_of};
use super::layout::{BRIDGE, GATEWAY, NAME_PREFIX, PREFIX_LEN};

/// The comment that marks the lab's own iptables rules.
const IPTABLES_COMMENT: &str = "wwctl-lab";

/// Check whether the lab bridge exists.
pub fn bridge_exists() -> bool {
    Path::new("/sys/class/net").join(BRIDGE).exists()
}

/// Read the lab folder recorded on the bridge (its interface alias), if any.
pub fn bridge_owner() -> Option<String> {
    let alias =
        fs::read_to_string(Path::new("/sys/class/net").join(BRIDGE).join("ifalias")).ok()?;
    let alias = alias.trim();
    (!alias.is_empty()).then(|| alias.to_string())
}

/// Create the bridge with the gateway address and IPv6 off, and label it
/// with the lab folder so a second lab can report its owner.
pub fn create_bridge(lab_dir: &Path) -> anyhow::Result<()> {
    run_args("ip", &["link", "add", "name", BRIDGE, "type", "bridge"])?;
    disable_ipv6(BRIDGE)?;
    let gateway = format!("{GATEWAY}/{PREFIX_LEN}");
    run_args("ip", &["addr", "add", &gateway, "dev", BRIDGE])?;
    let alias = lab_dir.to_string_lossy();
    run_args("ip", &["link", "set", "dev", BRIDGE, "alias", &alias])?;
    run_args("ip", &["link", "set", "dev", BRIDGE, "up"])?;
    allow_bridged_traffic()?;
    Ok(())
}

/// Delete the bridge and the lab's iptables rules, if present.
pub fn delete_bridge() -> anyhow::Result<()> {
    remove_bridged_traffic_rules();
    if bridge_exists() {
        run_args("ip", &["link", "del", BRIDGE])?;
    }
    Ok(())
}

/// Create a host's network namespace with `eth0` holding `address`, joined
/// to the bridge through the machine-side link `veth`.
pub fn create_host_link(netns: &str, veth: &str, address: Ipv4Addr) -> anyhow::Result<()> {
    run_args("ip", &["netns", "add", netns])?;
    run_args(
        "ip",
        &[
            "netns",
            "exec",
            netns,
            "sysctl",
            "-q",
            "-w",
            "net.ipv6.conf.all.disable_ipv6=1",
            "net.ipv6.conf.default.disable_ipv6=1",
        ],
    )?;
    run_args(
        "ip",
        &[
            "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", netns,
        ],
    )?;
    disable_ipv6(veth)?;
    run_args("ip", &["link", "set", "dev", veth, "master", BRIDGE, "up"])?;

    let cidr = format!("{address}/{PREFIX_LEN}");
    run_args("ip", &["-n", netns, "addr", "add", &cidr, "dev", "eth0"])?;
    run_args("ip", &["-n", netns, "link", "set", "dev", "lo", "up"])?;
    set_host_link_up(netns, true)
}

/// Bring a host's `eth0` up or down, because a powered-off droplet is unreachable.
pub fn set_host_link_up(netns: &str, up: bool) -> anyhow::Result<()> {
    let state = if up { "up" } else { "down" };
    run_args("ip", &["-n", netns, "link", "set", "dev", "eth0", state])?;
    Ok(())
}

/// Delete a host's namespace (its veth pair goes with it) and, if known
/// and still there, the machine-side link.
pub fn delete_host_link(netns: &str, veth: Option<&str>) -> anyhow::Result<()> {
    if list_netns()?.iter().any(|name| name == netns) {
        run_args("ip", &["netns", "del", netns])?;
    }
    if let Some(veth) = veth {
        delete_link(veth)?;
    }
    Ok(())
}

/// List the machine's process ids inside a network namespace.
pub fn netns_pids(netns: &str) -> anyhow::Result<Vec<u32>> {
    let text = stdout_of(std::process::Command::new("ip").args(["netns", "pids", netns]))?;
    Ok(text
        .split_whitespace()
        .filter_map(|pid| pid.parse().ok())
        .collect())
}

/// List every network namespace name on the machine.
pub fn list_netns() -> anyhow::Result<Vec<String>> {
    let text = stdout_of(std::process::Command::new("ip").args(["netns", "list"]))?;
    Ok(text
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .map(str::to_string)
        .collect())
}

/// Network namespaces with the lab's name prefix.
pub fn lab_netns() -> anyhow::Result<Vec<String>> {
    Ok(list_netns()?
        .into_iter()
        .filter(|name| name.starts_with(&format!("{NAME_PREFIX}-")))
        .collect())
}

/// Links on the machine with the lab's name prefix (the bridge and
/// machine-side veth ends).
pub fn lab_links() -> Vec<String> {
    let Ok(entries) = fs::read_dir("/sys/class/net") else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with(NAME_PREFIX))
        .collect()
}

/// Delete a link by name, ignoring one that is already gone.
pub fn delete_link(name: &str) -> anyhow::Result<()> {
    let exists = || !name.is_empty() && Path::new("/sys/class/net").join(name).exists();
    if exists() {
        // The kernel removes a veth pair shortly after its namespace, so
        // the link may vanish between the check and the delete.
        if let Err(error) = run_args("ip", &["link", "del", name])
            && exists()
        {
            return Err(error);
        }
    }
    Ok(())
}

fn disable_ipv6(link: &str) -> anyhow::Result<()> {
    let path = format!("/proc/sys/net/ipv6/conf/{link}/disable_ipv6");
    if Path::new(&path).exists() {
        fs::write(&path, "1").with_context(|| format!("cannot turn IPv6 off on `{link}`"))?;
    }
    Ok(())
}

/// When bridge netfilter is on (`net.bridge.bridge-nf-call-iptables=1`),
/// frames between hosts pass the machine's iptables FORWARD chain, and a
/// DROP policy there (a container engine sets one) would cut hosts off from
/// each other. Accept bridged lab traffic explicitly when iptables exists.
/// The per-bridge `nf_call_iptables` flag cannot switch this off while the
/// machine-wide sysctl is on, so the rule is the lab's only local remedy.
///
/// NOTE: the machine the lab was built on has no iptables, so this rule
/// path has not run there.
fn allow_bridged_traffic() -> anyhow::Result<()> {
    if !has_iptables() {
        tracing::debug!("no iptables on the machine; bridged lab traffic needs no rule");
        return Ok(());
    }
    for rule in bridge_rules() {
        let mut insert = vec!["-I"];
        insert.extend(&rule);
        run_args("iptables", &insert).context("cannot accept lab traffic in iptables")?;
    }
    Ok(())
}

fn remove_bridged_traffic_rules() {
    if !has_iptables() {
        return;
    }
    for rule in bridge_rules() {
        let mut delete = vec!["-D"];
        delete.extend(&rule);
        // A rule may have been inserted more than once by an interrupted start.
        while run_args("iptables", &delete).is_ok() {}
    }
}

fn bridge_rules() -> [Vec<&'static str>; 2] {
    let tail = [
        "-m",
        "comment",
        "--comment",
        IPTABLES_COMMENT,
        "-j",
        "ACCEPT",
    ];
    let mut forward = vec!["FORWARD", "-i", BRIDGE, "-o", BRIDGE];
    forward.extend(tail);
    let mut input = vec!["INPUT", "-i", BRIDGE];
    input.extend(tail);
    [forward, input]
}

fn has_iptables() -> bool {
    std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .chain([
            Path::new("/usr/sbin").to_path_buf(),
            Path::new("/sbin").to_path_buf(),
        ])
        .any(|dir| dir.join("iptables").is_file())
}
