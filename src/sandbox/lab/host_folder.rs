//! A host's folder on the machine (`hosts/<droplet id>/`): the copy of the
//! template, the upper layers of its overlays, and what its PID 1 reads at
//! boot.

use std::fs;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::{Deserialize, Serialize};

use super::record::write_atomic;
use super::template::{self, make_folder};
use crate::sandbox::hosts::BootRequest;

/// A machine folder a host mounts as an overlay: reads fall through to the
/// machine's files, and writes land in the host's upper layer. `useradd`,
/// `apt-get` locks and new files under `/etc` or `/usr` stay in the host.
pub struct Overlay {
    pub name: &'static str,
    pub lower: &'static str,
}

/// The overlays, mounted before the private folders.
pub const OVERLAYS: &[Overlay] = &[
    Overlay {
        name: "etc",
        lower: "/etc",
    },
    Overlay {
        name: "usr",
        lower: "/usr",
    },
    Overlay {
        name: "var-lib-dpkg",
        lower: "/var/lib/dpkg",
    },
    Overlay {
        name: "var-lib-apt",
        lower: "/var/lib/apt",
    },
    Overlay {
        name: "var-cache",
        lower: "/var/cache",
    },
    Overlay {
        name: "var-spool",
        lower: "/var/spool",
    },
];

/// The path, inside a host, of the wwctl binary its stand-ins run.
pub const STANDIN_BINARY: &str = "/usr/lib/wwctl-lab/wwctl";

/// The stand-ins placed over the machine's programs inside each host, and
/// the `wwctl sandbox lab` subcommand each one runs.
const STANDINS: &[(&str, &str)] = &[
    ("bin/systemctl", "systemctl"),
    ("bin/cloud-init", "cloud-init"),
];

/// The user data file inside a host, as cloud-init keeps it (mode 0600).
pub const USER_DATA: &str = "/run/cloud-init/user-data.txt";

/// The boot settings a host's PID 1 reads (`boot.json`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct BootFile {
    pub droplet_id: u64,
    pub name: String,
    pub address: Ipv4Addr,
    pub authorized_keys: Vec<String>,
    /// The lab folder, which PID 1 hides from the host once its own
    /// folders are mounted.
    pub lab_dir: PathBuf,
}

/// Fill a new host folder: template copy, overlay layers, stand-ins, host
/// name files and the boot file.
pub fn prepare(
    template_dir: &Path,
    lab_binary: &Path,
    lab_dir: &Path,
    host_dir: &Path,
    request: &BootRequest,
) -> anyhow::Result<()> {
    template::copy_to(template_dir, host_dir)?;
    for overlay in OVERLAYS {
        make_folder(&upper(host_dir, overlay.name), 0o755, None)?;
        make_folder(&work(host_dir, overlay.name), 0o755, None)?;
    }
    write_identity(host_dir, &request.name, request.address)?;
    install_standins(host_dir, lab_binary)?;

    let boot = BootFile {
        droplet_id: request.droplet_id,
        name: request.name.clone(),
        address: request.address,
        authorized_keys: request.authorized_keys.clone(),
        lab_dir: lab_dir.to_path_buf(),
    };
    let text = serde_json::to_string_pretty(&boot)?;
    write_atomic(&host_dir.join("boot.json"), text.as_bytes(), 0o600)?;

    if let Some(user_data) = &request.user_data {
        let cloud_dir = host_dir.join("run/cloud-init");
        make_folder(&cloud_dir, 0o755, None)?;
        write_atomic(
            &cloud_dir.join("user-data.txt"),
            user_data.as_bytes(),
            0o600,
        )?;
    }
    Ok(())
}

/// Return the upper layer of an overlay in a host folder.
pub fn upper(host_dir: &Path, name: &str) -> PathBuf {
    host_dir.join("overlay").join(name).join("upper")
}

/// The overlay's work folder, which must sit next to the upper layer.
pub fn work(host_dir: &Path, name: &str) -> PathBuf {
    host_dir.join("overlay").join(name).join("work")
}

/// Write `/etc/hostname`, `/etc/hosts` (hosts have no DNS, so each lists
/// its own name) and a machine id of its own.
fn write_identity(host_dir: &Path, name: &str, address: Ipv4Addr) -> anyhow::Result<()> {
    let etc = upper(host_dir, "etc");
    fs::write(etc.join("hostname"), format!("{name}\n"))?;
    fs::write(
        etc.join("hosts"),
        format!("127.0.0.1\tlocalhost\n{address}\t{name}\n"),
    )?;
    let machine_id: [u8; 16] = rand::random();
    fs::write(
        etc.join("machine-id"),
        format!("{}\n", hex::encode(machine_id)),
    )?;
    Ok(())
}

/// Place the `systemctl` and `cloud-init` stand-ins in the host's `/usr`
/// layer, with a hard link to the lab's wwctl binary for them to run.
fn install_standins(host_dir: &Path, lab_binary: &Path) -> anyhow::Result<()> {
    let usr = upper(host_dir, "usr");
    let binary = usr.join(STANDIN_BINARY.trim_start_matches("/usr/"));
    make_folder(
        binary
            .parent()
            .expect("the stand-in binary path has a parent"),
        0o755,
        None,
    )?;
    fs::hard_link(lab_binary, &binary)
        .with_context(|| format!("cannot link `{}` into the host", lab_binary.display()))?;

    make_folder(&usr.join("bin"), 0o755, None)?;
    for (path, subcommand) in STANDINS {
        let script =
            format!("#!/bin/sh\nexec {STANDIN_BINARY} sandbox lab {subcommand} -- \"$@\"\n");
        write_atomic(&usr.join(path), script.as_bytes(), 0o755)?;
    }
    Ok(())
}
