//! Taking a lab down: every host, namespace, link, mount and process it
//! made, found from its records and by the `wwlab` name prefix, so it also
//! works after a crash or a half-finished start. Running it twice is
//! harmless.

use std::fs;
use std::path::Path;
use std::time::Duration;

use anyhow::bail;
use nix::mount::{MntFlags, umount2};
use nix::sys::signal::Signal;

use super::git;
use super::host;
use super::layout::{BRIDGE, LabLayout, NAME_PREFIX};
use super::network;
use super::process;
use super::record::{self, LabRecord};

/// Counts of what `down` removed.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct DownReport {
    pub hosts: usize,
    pub namespaces: usize,
    pub links: usize,
    pub processes: usize,
    pub mounts: usize,
    pub folder_removed: bool,
}

/// Take the lab in `layout` down. Refuses when the running bridge belongs to
/// another lab folder that still exists, since one machine has one lab and
/// that one is not this caller's.
pub fn down(layout: &LabLayout) -> anyhow::Result<DownReport> {
    check_owner(layout)?;
    let mut report = DownReport::default();
    let mut errors = Vec::new();

    for host_record in host::all_records(layout) {
        match host::destroy(layout, host_record.droplet_id) {
            Ok(()) => report.hosts += 1,
            Err(error) => errors.push(format!("droplet {}: {error:#}", host_record.droplet_id)),
        }
    }

    for netns in network::lab_netns()? {
        let result = host::kill_netns_processes(&netns)
            .and_then(|()| network::delete_host_link(&netns, None));
        match result {
            Ok(()) => report.namespaces += 1,
            Err(error) => errors.push(format!("namespace {netns}: {error:#}")),
        }
    }

    report.processes += stop_git_daemons(layout);
    report.mounts += detach_stray_mounts(layout);

    for link in network::lab_links()
        .into_iter()
        .filter(|link| link != BRIDGE)
    {
        match network::delete_link(&link) {
            Ok(()) => report.links += 1,
            Err(error) => errors.push(format!("link {link}: {error:#}")),
        }
    }
    if network::bridge_exists() {
        match network::delete_bridge() {
            Ok(()) => report.links += 1,
            Err(error) => errors.push(format!("bridge {BRIDGE}: {error:#}")),
        }
    }

    if !errors.is_empty() {
        bail!("the lab is only partly down:\n{}", errors.join("\n"));
    }
    report.folder_removed = remove_folder(layout)?;
    Ok(report)
}

fn check_owner(layout: &LabLayout) -> anyhow::Result<()> {
    let Some(owner) = network::bridge_owner() else {
        return Ok(());
    };
    let owner_dir = Path::new(&owner);
    if owner_dir != layout.root() && owner_dir.join("lab.json").exists() {
        bail!(
            "the running lab belongs to `{owner}`, not `{}`; take it down with `wwctl sandbox lab down --lab-dir {owner}`",
            layout.root().display()
        );
    }
    Ok(())
}

/// Stop the recorded git daemon and any other daemon serving this lab's
/// repositories; returns how many were stopped.
fn stop_git_daemons(layout: &LabLayout) -> usize {
    let recorded = record::read::<LabRecord>(&layout.marker())
        .ok()
        .and_then(|lab| lab.git_daemon_pid);
    let mut daemons: Vec<u32> = process::all_pids()
        .into_iter()
        .filter(|pid| git::is_daemon(layout, *pid))
        .collect();
    if let Some(pid) = recorded.filter(|pid| git::is_daemon(layout, *pid) && !daemons.contains(pid))
    {
        daemons.push(pid);
    }
    for pid in &daemons {
        // The daemon leads its own process group, with one child per client.
        process::signal_group(*pid, Signal::SIGTERM);
    }
    let stopped = process::wait_until(Duration::from_secs(5), || {
        daemons.iter().all(|pid| !process::is_running(*pid))
    });
    if !stopped {
        daemons
            .iter()
            .for_each(|pid| process::signal_group(*pid, Signal::SIGKILL));
        process::wait_until(Duration::from_secs(5), || {
            daemons.iter().all(|pid| !process::is_running(*pid))
        });
    }
    daemons.len()
}

/// Detach mounts left on the machine under the lab folder or a lab
/// namespace name. Hosts mount only inside their own namespaces and
/// `ip netns del` removes its own mount, so this finds something only
/// after a crash.
fn detach_stray_mounts(layout: &LabLayout) -> usize {
    let root = layout.root().display().to_string();
    let netns_prefix = format!("/run/netns/{NAME_PREFIX}-");
    let mut mounts: Vec<String> = fs::read_to_string("/proc/self/mounts")
        .unwrap_or_default()
        .lines()
        .filter_map(|line| line.split_whitespace().nth(1))
        .map(unescape_mount_path)
        .filter(|target| target.starts_with(&root) || target.starts_with(&netns_prefix))
        .collect();
    mounts.sort_by_key(|target| std::cmp::Reverse(target.len()));
    mounts
        .iter()
        .filter(|target| umount2(target.as_str(), MntFlags::MNT_DETACH).is_ok())
        .count()
}

/// `/proc/self/mounts` writes spaces and other characters as octal escapes.
fn unescape_mount_path(escaped: &str) -> String {
    escaped
        .replace("\\040", " ")
        .replace("\\011", "\t")
        .replace("\\012", "\n")
        .replace("\\134", "\\")
}

/// Remove the lab folder, but only if its marker proves the lab made it.
fn remove_folder(layout: &LabLayout) -> anyhow::Result<bool> {
    let root = layout.root();
    if !root.exists() {
        return Ok(false);
    }
    if !layout.marker().exists() {
        tracing::warn!(
            "leaving `{}` in place: it has no lab.json, so the lab cannot prove it made it",
            root.display()
        );
        return Ok(false);
    }
    fs::remove_dir_all(root).map_err(|error| {
        anyhow::anyhow!("cannot remove the lab folder `{}`: {error}", root.display())
    })?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::unescape_mount_path;

    #[test]
    fn mount_paths_are_unescaped() {
        assert_eq!(unescape_mount_path("/var/lib/a\\040b"), "/var/lib/a b");
    }
}
