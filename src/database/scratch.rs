//! A throwaway local MariaDB server in a folder the caller owns, for tests
//! and benchmarks: `mariadb-install-db`, then `mariadbd` on a Unix socket
//! with networking off. Dropping the value stops the server.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::database::command::LocalRunner;
use crate::database::sql::{Client, Connection};

const START_TIMEOUT: Duration = Duration::from_secs(60);
const STOP_TIMEOUT: Duration = Duration::from_secs(20);

/// A running throwaway MariaDB server.
#[derive(Debug)]
pub struct ScratchServer {
    dir: PathBuf,
    socket: PathBuf,
    child: Option<Child>,
}

impl ScratchServer {
    /// Initialize a data directory under `dir` and start a server on it.
    /// `dir` must be empty or new, and short enough for a Unix socket path
    /// (about 100 bytes). The server is kept small: a 32 MiB buffer pool,
    /// no binary log, no performance schema.
    pub fn start(dir: &Path) -> anyhow::Result<ScratchServer> {
        let data = dir.join("data");
        let socket = dir.join("mysqld.sock");
        // Each server needs its own temporary folder: a starting server
        // deletes every `#sql*` file in its tmpdir, including the
        // temporary tables of other servers sharing it.
        let tmp = dir.join("tmp");
        std::fs::create_dir_all(&tmp)
            .with_context(|| format!("cannot create `{}`", tmp.display()))?;

        install(dir, &data, &tmp)?;

        let error_log = dir.join("error.log");
        let child = Command::new("mariadbd")
            .arg("--no-defaults")
            .arg(format!("--datadir={}", data.display()))
            .arg(format!("--socket={}", socket.display()))
            .arg(format!("--pid-file={}", dir.join("mysqld.pid").display()))
            .arg(format!("--log-error={}", error_log.display()))
            .arg(format!("--tmpdir={}", tmp.display()))
            .env("TMPDIR", &tmp)
            .args([
                "--skip-networking",
                "--user=root",
                "--innodb-buffer-pool-size=32M",
                "--innodb-log-file-size=48M",
                // Durability is worthless for a server deleted after the
                // test, and flushing each commit slows loads a lot.
                "--innodb-flush-log-at-trx-commit=0",
                "--innodb-doublewrite=0",
                "--performance-schema=OFF",
                "--character-set-server=utf8mb4",
                "--collation-server=utf8mb4_unicode_ci",
                "--max-allowed-packet=64M",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("cannot start `mariadbd`; is mariadb-server installed?")?;

        let mut server = ScratchServer {
            dir: dir.to_path_buf(),
            socket,
            child: Some(child),
        };
        server.wait_ready()?;
        Ok(server)
    }

    pub fn socket(&self) -> &Path {
        &self.socket
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Build the connection to this server through MariaDB's client programs.
    pub fn connection(&self) -> Connection {
        Connection {
            client: "mariadb".to_string(),
            dump: "mariadb-dump".to_string(),
            options: vec![format!("--socket={}", self.socket.display())],
        }
    }

    /// Build a SQL client for this server, as root over the socket.
    pub fn client(&self) -> Client {
        Client::new(Arc::new(LocalRunner), self.connection())
    }

    fn wait_ready(&mut self) -> anyhow::Result<()> {
        let started = Instant::now();
        loop {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|child| child.try_wait().ok().flatten())
            {
                self.child = None;
                bail!(
                    "`mariadbd` in `{}` exited during start-up ({status}):\n{}",
                    self.dir.display(),
                    self.error_log_tail()
                );
            }

            let ping = Command::new("mariadb-admin")
                .arg(format!("--socket={}", self.socket.display()))
                .args(["--connect-timeout=2", "ping"])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
            if ping.is_ok_and(|status| status.success()) {
                return Ok(());
            }

            if started.elapsed() > START_TIMEOUT {
                bail!(
                    "`mariadbd` in `{}` did not accept connections within {} s:\n{}",
                    self.dir.display(),
                    START_TIMEOUT.as_secs(),
                    self.error_log_tail()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn error_log_tail(&self) -> String {
        let text = std::fs::read_to_string(self.dir.join("error.log")).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(15)..].join("\n")
    }

    /// Stop the server: SIGTERM, then SIGKILL after 20 s.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let pid = Pid::from_raw(child.id() as i32);
        let _ = kill(pid, Signal::SIGTERM);

        let started = Instant::now();
        while started.elapsed() < STOP_TIMEOUT {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}

impl Drop for ScratchServer {
    fn drop(&mut self) {
        self.stop();
    }
}

fn install(dir: &Path, data: &Path, tmp: &Path) -> anyhow::Result<()> {
    let output = Command::new("mariadb-install-db")
        .arg("--no-defaults")
        .arg("--auth-root-authentication-method=socket")
        .arg(format!("--datadir={}", data.display()))
        .arg(format!("--tmpdir={}", tmp.display()))
        .env("TMPDIR", tmp)
        .args(["--user=root", "--skip-test-db"])
        .stdin(Stdio::null())
        .output()
        .context("cannot run `mariadb-install-db`; is mariadb-server installed?")?;
    if !output.status.success() {
        bail!(
            "`mariadb-install-db` failed in `{}` ({}):\n{}",
            dir.display(),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(())
}
