//! The lab: real hosts for the sandbox's droplets on this machine.
//!
//! Each droplet is a host with its own address on the bridge `wwlab0`
//! (10.77.0.1/16), its own network, mount, UTS and PID namespaces, and its
//! own sshd, NGINX and MariaDB. The lab also runs a git daemon with the
//! stand-in apps, a certificate authority and the controller's SSH key.
//! It needs root, and one lab runs per machine.

pub mod apps;
mod backend;
pub mod ca;
pub mod cli;
pub mod cloud_init;
pub mod command;
pub mod git;
pub mod host;
pub mod host_folder;
pub mod init;
pub mod keys;
pub mod layout;
pub mod network;
pub mod process;
pub mod record;
pub mod status;
pub mod systemctl;
pub mod teardown;
pub mod template;

use std::collections::HashMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::{Context, bail};

use crate::error::UserError;
use ca::Ca;
use keys::ControllerKey;
use layout::LabLayout;
use record::{LabRecord, RECORD_VERSION};

pub use layout::DEFAULT_LAB_DIR;
pub use status::LabStatus;
pub use teardown::DownReport;

/// Programs the lab runs on the machine, with the Debian package of each.
const REQUIRED_PROGRAMS: &[(&str, &str)] = &[
    ("ip", "iproute2"),
    ("unshare", "util-linux"),
    ("nsenter", "util-linux"),
    ("sysctl", "procps"),
    ("tar", "tar"),
    ("git", "git"),
    ("nginx", "nginx"),
    ("mariadbd", "mariadb-server"),
    ("mariadb-install-db", "mariadb-server"),
    ("sshd", "openssh-server"),
    ("gunicorn", "gunicorn"),
];

/// How to set up a lab.
#[derive(Clone, Debug)]
pub struct LabConfig {
    /// The lab folder; not under `/root`, `/tmp` or another folder hosts
    /// replace.
    pub dir: PathBuf,
    /// The wwctl binary hosts run as PID 1 and as their stand-ins. The lab
    /// copies it, so rebuilding wwctl does not change a running lab.
    pub binary: PathBuf,
}

impl LabConfig {
    /// Use `dir` or the default folder, and the running wwctl binary.
    pub fn new(dir: Option<PathBuf>) -> anyhow::Result<Self> {
        Ok(Self {
            dir: dir.unwrap_or_else(|| PathBuf::from(DEFAULT_LAB_DIR)),
            binary: std::env::current_exe().context("cannot find the wwctl binary")?,
        })
    }
}

/// A lab on this machine. Cloning shares it.
#[derive(Clone, Debug)]
pub struct Lab {
    inner: Arc<LabInner>,
}

#[derive(Debug)]
struct LabInner {
    layout: LabLayout,
    /// One lock per droplet, so operations on one host run one at a time.
    host_locks: Mutex<HashMap<u64, Arc<Mutex<()>>>>,
}

impl Lab {
    /// Set up the lab: folder, wwctl copy, host template, CA and site
    /// certificates, controller key, bridge, published apps and git daemon.
    /// Refuses when a lab already runs. Cleans up after itself on failure.
    pub fn up(config: &LabConfig) -> anyhow::Result<Self> {
        require_root()?;
        require_programs()?;
        let lab = Self::open(&config.dir)?;
        lab.refuse_if_running()?;

        let result = lab.set_up(config);
        if let Err(error) = result {
            if let Err(cleanup) = teardown::down(&lab.inner.layout) {
                tracing::warn!("cannot clean up the half-started lab: {cleanup:#}");
            }
            return Err(error.context("cannot bring the lab up"));
        }
        Ok(lab)
    }

    /// Open the lab in `dir`, running or not (for `down`, `status` and
    /// `exec` from another process).
    pub fn open(dir: &Path) -> anyhow::Result<Self> {
        let layout = LabLayout::new(dir)?;
        Ok(Self {
            inner: Arc::new(LabInner {
                layout,
                host_locks: Mutex::new(HashMap::new()),
            }),
        })
    }

    fn refuse_if_running(&self) -> anyhow::Result<()> {
        let layout = &self.inner.layout;
        if network::bridge_exists() {
            let owner = network::bridge_owner().unwrap_or_else(|| "an unknown folder".to_string());
            return Err(UserError::refused(format!(
                "a lab is already running (bridge `{}`, lab folder `{owner}`)",
                layout::BRIDGE
            ))
            .with_hint(format!(
                "take it down first with `wwctl sandbox lab down --lab-dir {owner}`"
            ))
            .into());
        }
        let root = layout.root();
        if layout.marker().exists() {
            // A lab that crashed left its folder but runs nothing the
            // bridge check would see, so clear what is left.
            teardown::down(layout).context("cannot clear the previous lab's leftovers")?;
        } else if root.exists() && fs::read_dir(root)?.next().is_some() {
            return Err(UserError::refused(format!(
                "the lab folder `{}` exists, is not empty and was not made by the lab",
                root.display()
            ))
            .with_hint("choose another folder with --lab-dir, or empty this one")
            .into());
        }
        Ok(())
    }

    fn set_up(&self, config: &LabConfig) -> anyhow::Result<()> {
        let layout = &self.inner.layout;
        fs::create_dir_all(layout.root())
            .with_context(|| format!("cannot create `{}`", layout.root().display()))?;
        // Search permission only for others: `mariadb-install-db` runs as
        // `mysql` in the template below. Secrets inside have their own
        // owner-only modes.
        fs::set_permissions(layout.root(), fs::Permissions::from_mode(0o711))?;
        let mut lab_record = LabRecord {
            version: RECORD_VERSION,
            bridge: layout::BRIDGE.to_string(),
            started_at: record::now(),
            git_daemon_pid: None,
        };
        record::write(&layout.marker(), &lab_record)?;

        fs::create_dir_all(
            layout
                .binary()
                .parent()
                .expect("the binary path has a parent"),
        )?;
        fs::copy(&config.binary, layout.binary())
            .with_context(|| format!("cannot copy `{}` into the lab", config.binary.display()))?;

        template::prepare(&layout.template())?;
        let ca = Ca::create(&layout.ca())?;
        ca.issue_site_certificates()?;
        keys::generate(layout)?;

        network::create_bridge(layout.root())?;
        git::publish(layout)?;
        lab_record.git_daemon_pid = Some(git::start_daemon(layout)?);
        record::write(&layout.marker(), &lab_record)?;
        Ok(())
    }

    /// Take the lab down: every host, namespace, link, mount and process,
    /// the bridge, and the lab folder. Safe to repeat and after a crash.
    pub fn down(&self) -> anyhow::Result<DownReport> {
        require_root()?;
        teardown::down(&self.inner.layout)
    }

    pub fn status(&self) -> LabStatus {
        status::collect(&self.inner.layout)
    }

    /// Run `argv` inside the host of a droplet, named by droplet name or id,
    /// through `nsenter` (no SSH). Returns the command's exit code, or
    /// 128 plus the signal number when a signal ended it.
    pub fn exec(&self, target: &str, argv: &[String]) -> anyhow::Result<i32> {
        if argv.is_empty() {
            return Err(UserError::usage("no command to run; give it after `--`").into());
        }
        let status = self
            .host_command(target, argv)?
            .status()
            .context("cannot run nsenter")?;
        Ok(status
            .code()
            .or_else(|| {
                std::os::unix::process::ExitStatusExt::signal(&status).map(|signal| 128 + signal)
            })
            .unwrap_or(1))
    }

    /// Build a command that runs `argv` inside the host of a droplet (by
    /// name or id) through `nsenter`, for callers that capture its output.
    pub fn host_command(
        &self,
        target: &str,
        argv: &[String],
    ) -> anyhow::Result<std::process::Command> {
        require_root()?;
        let record = self.find_host(target)?;
        host::command_in_host(&record, argv)
    }

    /// Find the host of a droplet named by id or by name.
    fn find_host(&self, target: &str) -> anyhow::Result<record::HostRecord> {
        let records = host::all_records(&self.inner.layout);
        if let Ok(id) = target.parse::<u64>()
            && let Some(found) = records.iter().find(|record| record.droplet_id == id)
        {
            return Ok(found.clone());
        }
        let named: Vec<&record::HostRecord> = records
            .iter()
            .filter(|record| record.name == target)
            .collect();
        match named.as_slice() {
            [one] => Ok((*one).clone()),
            [] => {
                let names: Vec<&str> = records.iter().map(|record| record.name.as_str()).collect();
                let hint = if names.is_empty() {
                    "the lab has no hosts; create a droplet first".to_string()
                } else {
                    crate::suggest::hint_for(target, names.iter().copied())
                };
                Err(UserError::usage(format!("no lab host is named `{target}`"))
                    .with_hint(hint)
                    .into())
            }
            several => {
                let ids: Vec<String> = several
                    .iter()
                    .map(|record| record.droplet_id.to_string())
                    .collect();
                Err(UserError::usage(format!(
                    "several droplets are named `{target}` (ids {})",
                    ids.join(", ")
                ))
                .with_hint("name the droplet by its id instead")
                .into())
            }
        }
    }

    pub fn dir(&self) -> &Path {
        self.inner.layout.root()
    }

    /// Open the sandbox CA, for signing server certificates.
    pub fn ca(&self) -> anyhow::Result<Ca> {
        Ca::open(&self.inner.layout.ca())
    }

    /// Return the path of the CA certificate that clients trust.
    pub fn ca_certificate_path(&self) -> PathBuf {
        self.inner.layout.ca().join("ca.crt")
    }

    /// Load the controller key pair, registered as the account key `wwdtm-ops`.
    pub fn controller_key(&self) -> anyhow::Result<ControllerKey> {
        keys::load(&self.inner.layout)
    }

    /// Return the clone URL of a stand-in app (`stats` or `stats.wwdt.me`).
    pub fn git_url(&self, app: &str) -> anyhow::Result<String> {
        let app = apps::find(app).with_context(|| format!("no stand-in app `{app}`"))?;
        Ok(git::url(app))
    }

    /// Add a commit setting `version` to `branch` of a stand-in app, publish
    /// it, and return the commit id.
    pub fn add_commit(&self, app: &str, branch: &str, version: &str) -> anyhow::Result<String> {
        git::add_commit(&self.inner.layout, app, branch, version)
    }

    /// Read the public host keys of a droplet's host, one OpenSSH line each
    /// (`ssh-ed25519 AAAA...`), for a known_hosts file.
    pub fn host_public_keys(&self, droplet_id: u64) -> anyhow::Result<Vec<String>> {
        let dir = self.inner.layout.host(droplet_id).join("etc-ssh");
        let mut keys = Vec::new();
        for entry in
            fs::read_dir(&dir).with_context(|| format!("no host for droplet {droplet_id}"))?
        {
            let path = entry?.path();
            let name = path
                .file_name()
                .map(|name| name.to_string_lossy().into_owned())
                .unwrap_or_default();
            if name.starts_with("ssh_host_") && name.ends_with("_key.pub") {
                keys.push(fs::read_to_string(&path)?.trim().to_string());
            }
        }
        keys.sort();
        Ok(keys)
    }

    /// Return the lock for one droplet's host.
    fn host_lock(&self, droplet_id: u64) -> Arc<Mutex<()>> {
        let mut locks = self
            .inner
            .host_locks
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        locks.entry(droplet_id).or_default().clone()
    }

    fn layout(&self) -> &LabLayout {
        &self.inner.layout
    }
}

fn require_root() -> anyhow::Result<()> {
    if !nix::unistd::geteuid().is_root() {
        bail!(
            UserError::usage(
                "the lab needs root: it creates network namespaces, a bridge and mounts"
            )
            .with_hint(
                "run the command as root, or use `wwctl sandbox up --api-only` without hosts"
            )
        );
    }
    Ok(())
}

fn require_programs() -> anyhow::Result<()> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let search: Vec<PathBuf> = std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin"].map(PathBuf::from))
        .collect();
    let missing: Vec<String> = REQUIRED_PROGRAMS
        .iter()
        .filter(|(program, _)| !search.iter().any(|dir| dir.join(program).is_file()))
        .map(|(program, package)| format!("`{program}` (package {package})"))
        .collect();
    if !missing.is_empty() {
        bail!(
            UserError::usage(format!(
                "the lab needs programs this machine lacks: {}",
                missing.join(", ")
            ))
            .with_hint("install them with apt-get install")
        );
    }
    Ok(())
}
