//! The host's view of the files, built by its PID 1 inside the host's own
//! mount namespace (private propagation, so nothing reaches the machine).

use std::path::Path;

use anyhow::Context;
use nix::mount::{MntFlags, MsFlags, mount, umount2};

use crate::sandbox::lab::host_folder::{OVERLAYS, upper, work};
use crate::sandbox::lab::template::PRIVATE_FOLDERS;

/// Mount the host's overlays and private folders, then hide the lab folder.
pub fn apply(host_dir: &Path, lab_dir: &Path) -> anyhow::Result<()> {
    detach_netns_mounts();

    for overlay in OVERLAYS {
        if !Path::new(overlay.lower).is_dir() {
            continue;
        }
        let options = format!(
            "lowerdir={},upperdir={},workdir={}",
            overlay.lower,
            upper(host_dir, overlay.name).display(),
            work(host_dir, overlay.name).display()
        );
        mount(
            Some("overlay"),
            overlay.lower,
            Some("overlay"),
            MsFlags::empty(),
            Some(options.as_str()),
        )
        .with_context(|| format!("cannot mount the overlay on `{}`", overlay.lower))?;
    }

    for folder in PRIVATE_FOLDERS {
        let source = host_dir.join(folder.name);
        mount(
            Some(&source),
            folder.target,
            None::<&str>,
            MsFlags::MS_BIND | MsFlags::MS_REC,
            None::<&str>,
        )
        .with_context(|| {
            format!(
                "cannot bind `{}` over `{}`",
                source.display(),
                folder.target
            )
        })?;
    }

    // The lab folder contains every host's files, the CA key and the
    // controller key, which a host must not see.
    mount(
        Some("tmpfs"),
        lab_dir,
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        Some("size=64k,mode=0700"),
    )
    .with_context(|| {
        format!(
            "cannot hide the lab folder `{}` from the host",
            lab_dir.display()
        )
    })?;
    Ok(())
}

/// Detach every mount under `/run/netns`, deepest first. The host's mount
/// namespace started as a copy of the machine's, with a bind mount there
/// for every lab host that existed then, and those copies would keep the
/// namespaces (and their addresses) alive after the machine deletes them.
fn detach_netns_mounts() {
    let mut targets: Vec<String> = std::fs::read_to_string("/proc/self/mounts")
        .unwrap_or_default()
        .lines()
        .filter_map(|line| line.split_whitespace().nth(1))
        .filter(|target| *target == "/run/netns" || target.starts_with("/run/netns/"))
        .map(str::to_string)
        .collect();
    targets.sort_by_key(|target| std::cmp::Reverse(target.len()));
    targets.dedup();
    for target in targets {
        if let Err(error) = umount2(target.as_str(), MntFlags::MNT_DETACH) {
            tracing::debug!("cannot detach `{target}`: {error}");
        }
    }
}
