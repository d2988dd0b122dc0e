//! The sandbox folder: the emulator's state, log, token, and the pid, port
//! and runtime files through which `up`, `env`, `status` and `down` find the
//! running daemon.

use std::fs;
use std::io::Write;
use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::{Deserialize, Serialize};

use crate::error::HintExt;
use crate::sandbox::token;
use crate::secret::Secret;

/// The folder root uses when `--dir` and `WWCTL_SANDBOX_DIR` are absent.
pub const ROOT_DEFAULT: &str = "/var/lib/wwctl/sandbox";

#[derive(Clone, Debug)]
pub struct SandboxDir {
    pub path: PathBuf,
    /// Whether `path` differs from this user's default folder, so commands
    /// suggested in hints must name it with `--dir`.
    pub non_default: bool,
}

/// The facts a running `sandbox serve` publishes about itself.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Runtime {
    pub pid: u32,
    /// The address the API listens on.
    pub api: SocketAddr,
    /// The address the DNS server listens on (UDP and TCP).
    pub dns: SocketAddr,
    pub api_only: bool,
    pub time_scale: f64,
    /// The base URL the API writes into pagination links.
    pub public_url: String,
    pub started_at: jiff::Timestamp,
    pub version: String,
}

impl Runtime {
    pub fn api_url(&self) -> String {
        format!("http://{}", self.api)
    }
}

impl SandboxDir {
    /// Resolve the folder from `--dir`/`WWCTL_SANDBOX_DIR`, or the default
    /// for this user.
    pub fn resolve(explicit: Option<&Path>) -> anyhow::Result<Self> {
        let Some(path) = explicit else {
            return Ok(Self {
                path: default_path()?,
                non_default: false,
            });
        };
        let non_default = default_path().map_or(true, |default| default != path);
        Ok(Self {
            path: path.to_path_buf(),
            non_default,
        })
    }

    /// Format a `wwctl sandbox` command line for a hint, with `--dir` when
    /// this folder is not the default one: `command("down")` returns
    /// `wwctl sandbox --dir /tmp/sb down`.
    pub fn command(&self, subcommand: &str) -> String {
        if !self.non_default {
            return format!("wwctl sandbox {subcommand}");
        }
        let dir = crate::remote::quote::quote(&self.path.to_string_lossy());
        format!("wwctl sandbox --dir {dir} {subcommand}")
    }

    pub fn state_file(&self) -> PathBuf {
        self.path.join("state.json")
    }

    pub fn log_file(&self) -> PathBuf {
        self.path.join("sandbox.log")
    }

    pub fn pid_file(&self) -> PathBuf {
        self.path.join("sandbox.pid")
    }

    pub fn port_file(&self) -> PathBuf {
        self.path.join("sandbox.port")
    }

    pub fn runtime_file(&self) -> PathBuf {
        self.path.join("runtime.json")
    }

    pub fn token_file(&self) -> PathBuf {
        self.path.join("token")
    }

    /// Create the folder, readable by its owner only.
    /// The folder is mode 0711: others cannot list it, but the lab's
    /// MariaDB (user `mysql`) can reach the lab folder inside it. Every file
    /// in it is mode 0600.
    pub fn create(&self) -> anyhow::Result<()> {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o711)
            .create(&self.path)
            .with_context(|| format!("cannot create the sandbox folder `{}`", self.path.display()))
            .hint("choose another folder with --dir or WWCTL_SANDBOX_DIR")?;
        fs::set_permissions(&self.path, fs::Permissions::from_mode(0o711))
            .with_context(|| format!("cannot set the mode of `{}`", self.path.display()))
    }

    /// Return the sandbox token, created on first use and kept so that the
    /// same account (and its droplets and zones) survives restarts.
    pub fn token(&self) -> anyhow::Result<Secret> {
        let path = self.token_file();
        if let Some(token) = self.read_token()? {
            return Ok(token);
        }

        let token = token::generate();
        write_atomic(&path, token.expose().as_bytes(), 0o600)?;
        Ok(token)
    }

    /// Read the sandbox token if one was created.
    pub fn read_token(&self) -> anyhow::Result<Option<Secret>> {
        let path = self.token_file();
        match fs::read_to_string(&path) {
            Ok(text) => Ok(Some(Secret::new(text.trim()))),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(error) => Err(error)
                .with_context(|| format!("cannot read the sandbox token `{}`", path.display())),
        }
    }

    /// Publish the runtime, pid and port files of a started server.
    pub fn write_runtime(&self, runtime: &Runtime) -> anyhow::Result<()> {
        let json = serde_json::to_vec_pretty(runtime)?;
        write_atomic(&self.runtime_file(), &json, 0o600)?;
        write_atomic(
            &self.port_file(),
            format!("{}\n", runtime.api.port()).as_bytes(),
            0o600,
        )?;
        write_atomic(
            &self.pid_file(),
            format!("{}\n", runtime.pid).as_bytes(),
            0o600,
        )
    }

    /// Remove the runtime, pid and port files; missing files are fine.
    pub fn clear_runtime(&self) {
        for path in [self.runtime_file(), self.port_file(), self.pid_file()] {
            let _ = fs::remove_file(path);
        }
    }

    /// Read the published runtime, whether or not its process still runs.
    pub fn read_runtime(&self) -> anyhow::Result<Option<Runtime>> {
        let path = self.runtime_file();
        let text = match fs::read(&path) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(error) => {
                return Err(error).with_context(|| format!("cannot read `{}`", path.display()));
            }
        };
        let runtime = serde_json::from_slice(&text)
            .with_context(|| format!("`{}` is not a sandbox runtime file", path.display()))
            .hint(format!(
                "stop the sandbox with `{}`, then start it again",
                self.command("down")
            ))?;
        Ok(Some(runtime))
    }

    /// Return the runtime of the sandbox server that runs now, if any. A
    /// runtime file whose process is gone (or is another program) is stale.
    pub fn running(&self) -> anyhow::Result<Option<Runtime>> {
        let Some(runtime) = self.read_runtime()? else {
            return Ok(None);
        };
        if is_sandbox_server(runtime.pid) {
            Ok(Some(runtime))
        } else {
            Ok(None)
        }
    }
}

/// Check whether `pid` is a live `wwctl sandbox serve` process.
pub fn is_sandbox_server(pid: u32) -> bool {
    let Ok(cmdline) = fs::read(format!("/proc/{pid}/cmdline")) else {
        return false;
    };
    let arguments: Vec<&[u8]> = cmdline.split(|byte| *byte == 0).collect();
    let has = |word: &[u8]| arguments.contains(&word);
    has(b"sandbox") && has(b"serve")
}

/// Choose the default sandbox folder: a system folder for root, the user's
/// state folder otherwise.
fn default_path() -> anyhow::Result<PathBuf> {
    if nix::unistd::geteuid().is_root() {
        return Ok(PathBuf::from(ROOT_DEFAULT));
    }
    if let Some(state) = std::env::var_os("XDG_STATE_HOME").filter(|value| !value.is_empty()) {
        return Ok(PathBuf::from(state).join("wwctl/sandbox"));
    }
    match std::env::var_os("HOME").filter(|value| !value.is_empty()) {
        Some(home) => Ok(PathBuf::from(home).join(".local/state/wwctl/sandbox")),
        None => Err(anyhow::anyhow!(
            "cannot choose a sandbox folder: neither XDG_STATE_HOME nor HOME is set"
        ))
        .hint("pass --dir or set WWCTL_SANDBOX_DIR"),
    }
}

/// Write a file atomically: a temporary file beside it, fsync, rename, and
/// an fsync of the folder so the rename itself is durable.
pub fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> anyhow::Result<()> {
    let folder = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|name| name.to_string_lossy())
        .unwrap_or_default();
    let temporary = folder.join(format!(".{name}.{}.tmp", std::process::id()));

    let write = || -> std::io::Result<()> {
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(mode)
            .open(&temporary)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&temporary, path)?;
        fs::File::open(folder)?.sync_all()
    };
    write().map_err(|error| {
        let _ = fs::remove_file(&temporary);
        anyhow::Error::new(error).context(format!("cannot write `{}`", path.display()))
    })
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::SandboxDir;

    #[test]
    fn command_names_non_default_folder() {
        let dir = SandboxDir {
            path: PathBuf::from("/tmp/my sandbox"),
            non_default: true,
        };
        assert_eq!(
            dir.command("down"),
            "wwctl sandbox --dir '/tmp/my sandbox' down"
        );
    }

    #[test]
    fn command_omits_default_folder() {
        let dir = SandboxDir::resolve(None).unwrap();
        assert_eq!(dir.command("down"), "wwctl sandbox down");

        let same = SandboxDir::resolve(Some(&dir.path)).unwrap();
        assert_eq!(same.command("down"), "wwctl sandbox down");
    }
}
