//! The lab's file layout, and the names it gives to the machine's network
//! objects.
//!
//! Everything the lab creates lives under one folder (by default
//! `/var/lib/wwctl/sandbox/lab`), owned by root with mode 0711. Hosts bind
//! `/root` and `/tmp` over the machine's, so the folder must not sit under
//! either: a host would hide it from itself while it is still needed.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use crate::error::UserError;

/// The lab folder used when none is given.
pub const DEFAULT_LAB_DIR: &str = "/var/lib/wwctl/sandbox/lab";

/// The bridge joining the hosts to the machine.
pub const BRIDGE: &str = "wwlab0";

/// The prefix of every network namespace and link the lab creates.
pub const NAME_PREFIX: &str = "wwlab";

/// The machine's address on the bridge, where the git daemon listens.
pub const GATEWAY: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 1);

/// The prefix length of the lab network 10.77.0.0/16.
pub const PREFIX_LEN: u8 = 16;

/// The account SSH key name under which the sandbox registers the
/// controller's key.
pub const CONTROLLER_KEY_NAME: &str = "wwdtm-ops";

/// Folders that hosts bind over the machine's own, which the lab folder
/// must not be under.
const HIDDEN_BY_HOSTS: &[&str] = &["/root", "/tmp", "/run", "/var/tmp", "/home", "/opt", "/srv"];

/// Paths inside a lab folder.
#[derive(Clone, Debug)]
pub struct LabLayout {
    root: PathBuf,
}

impl LabLayout {
    /// Check that `dir` is an absolute path outside the folders hosts bind
    /// over, and return its layout.
    pub fn new(dir: &Path) -> Result<Self, UserError> {
        if !dir.is_absolute() {
            return Err(UserError::usage(format!(
                "the lab folder `{}` is not an absolute path",
                dir.display()
            ))
            .with_hint(format!(
                "pass an absolute path, such as `{DEFAULT_LAB_DIR}`"
            )));
        }
        // Overlay mount options separate paths with `,` and `:`.
        let text = dir.to_string_lossy();
        if text.contains([',', ':']) || text.chars().any(char::is_whitespace) {
            return Err(UserError::usage(format!(
                "the lab folder `{}` contains a comma, colon or space, which mount options cannot hold",
                dir.display()
            ))
            .with_hint(format!("use a plain path such as `{DEFAULT_LAB_DIR}`")));
        }
        for hidden in HIDDEN_BY_HOSTS {
            if dir.starts_with(hidden) {
                return Err(UserError::usage(format!(
                    "the lab folder `{}` is under `{hidden}`, which every lab host replaces with its own",
                    dir.display()
                ))
                .with_hint(format!("use a folder such as `{DEFAULT_LAB_DIR}`")));
            }
        }
        Ok(Self {
            root: dir.to_path_buf(),
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Return the file whose presence proves that the lab created this folder.
    pub fn marker(&self) -> PathBuf {
        self.root.join("lab.json")
    }

    /// Return the copy of the wwctl binary that hosts run as PID 1 and as
    /// their `systemctl` and `cloud-init` stand-ins.
    pub fn binary(&self) -> PathBuf {
        self.root.join("bin/wwctl")
    }

    pub fn template(&self) -> PathBuf {
        self.root.join("template")
    }

    pub fn hosts(&self) -> PathBuf {
        self.root.join("hosts")
    }

    pub fn host(&self, droplet_id: u64) -> PathBuf {
        self.hosts().join(droplet_id.to_string())
    }

    pub fn snapshots(&self) -> PathBuf {
        self.root.join("snapshots")
    }

    pub fn snapshot(&self, snapshot_id: u64) -> PathBuf {
        self.snapshots().join(format!("{snapshot_id}.tar"))
    }

    pub fn ca(&self) -> PathBuf {
        self.root.join("ca")
    }

    pub fn keys(&self) -> PathBuf {
        self.root.join("keys")
    }

    pub fn controller_key(&self) -> PathBuf {
        self.keys().join(CONTROLLER_KEY_NAME)
    }

    pub fn controller_public_key(&self) -> PathBuf {
        self.keys().join(format!("{CONTROLLER_KEY_NAME}.pub"))
    }

    /// Bare repositories the git daemon serves.
    pub fn git(&self) -> PathBuf {
        self.root.join("git")
    }

    /// Working copies the published repositories are built in.
    pub fn git_work(&self) -> PathBuf {
        self.root.join("git-work")
    }

    pub fn git_daemon_log(&self) -> PathBuf {
        self.root.join("git-daemon.log")
    }
}

/// Return the network namespace name of a droplet's host.
pub fn netns_name(droplet_id: u64) -> String {
    format!("{NAME_PREFIX}-{droplet_id}")
}

/// Return the name of the machine's end of a host's veth pair. It is made
/// from the address so it fits the 15 bytes Linux allows (`wwlab-255-255`).
pub fn veth_name(address: Ipv4Addr) -> String {
    let [_, _, third, fourth] = address.octets();
    format!("{NAME_PREFIX}-{third}-{fourth}")
}

/// Check that a droplet address belongs to the lab network and is free for
/// a host: not the network, broadcast or gateway address.
pub fn check_host_address(address: Ipv4Addr) -> Result<(), UserError> {
    let [first, second, third, fourth] = address.octets();
    let in_network = first == 10 && second == 77;
    let reserved =
        address == GATEWAY || (third == 0 && fourth == 0) || (third == 255 && fourth == 255);
    if !in_network || reserved {
        return Err(UserError::usage(format!(
            "the droplet address `{address}` is not a host address of the lab network 10.77.0.0/16"
        ))
        .with_hint("give droplets addresses from 10.77.0.2 to 10.77.255.254"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;
    use std::path::Path;

    use super::{LabLayout, check_host_address, veth_name};

    #[test]
    fn layout_rejects_folders_hosts_replace() {
        assert!(LabLayout::new(Path::new("/tmp/lab")).is_err());
        assert!(LabLayout::new(Path::new("/root/lab")).is_err());
        assert!(LabLayout::new(Path::new("relative/lab")).is_err());
        assert!(LabLayout::new(Path::new("/var/lib/wwctl/sandbox/lab")).is_ok());
    }

    #[test]
    fn veth_name_fits_interface_limit() {
        let name = veth_name(Ipv4Addr::new(10, 77, 255, 254));
        assert_eq!(name, "wwlab-255-254");
        assert!(name.len() <= 15);
    }

    #[test]
    fn host_address_must_be_in_lab_network() {
        assert!(check_host_address(Ipv4Addr::new(10, 77, 1, 2)).is_ok());
        assert!(check_host_address(Ipv4Addr::new(10, 77, 0, 1)).is_err());
        assert!(check_host_address(Ipv4Addr::new(10, 78, 1, 2)).is_err());
        assert!(check_host_address(Ipv4Addr::new(10, 77, 255, 255)).is_err());
    }
}
