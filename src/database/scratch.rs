//! A throwaway local MariaDB server in a folder the caller owns, for tests
//! and benchmarks: `mariadb-install-db`, then `mariadbd` on a Unix socket,
//! with networking off unless asked for a TCP port on 127.0.0.1 (a
//! replica needs one to reach its source). Dropping the value stops the
//! server.

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

/// Start attempts on a TCP port: another process can take the free port
/// between the probe and the server's bind.
const TCP_START_ATTEMPTS: usize = 3;

/// What a scratch server has besides the defaults.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ScratchOptions {
    /// Listen on a free TCP port on 127.0.0.1 as well as on the socket.
    pub tcp: bool,
    /// The server's `server_id`; MariaDB's default is 1.
    pub server_id: Option<u32>,
    /// Write a binary log in ROW format, as a replication source must.
    pub binary_log: bool,
}

/// A running throwaway MariaDB server.
#[derive(Debug)]
pub struct ScratchServer {
    dir: PathBuf,
    socket: PathBuf,
    port: Option<u16>,
    child: Option<Child>,
}

impl ScratchServer {
    /// Initialize a data directory under `dir` and start a server on it.
    /// `dir` must be empty or new, and short enough for a Unix socket path
    /// (about 100 bytes). The server is kept small: a 32 MiB buffer pool,
    /// no binary log, no performance schema.
    pub fn start(dir: &Path) -> anyhow::Result<ScratchServer> {
        Self::start_with(dir, &ScratchOptions::default())
    }

    /// Start a server as `start` does, with the TCP port, server id and
    /// binary log of `options`.
    pub fn start_with(dir: &Path, options: &ScratchOptions) -> anyhow::Result<ScratchServer> {
        let data = dir.join("data");
        // Each server needs its own temporary folder: a starting server
        // deletes every `#sql*` file in its tmpdir, including the
        // temporary tables of other servers sharing it.
        let tmp = dir.join("tmp");
        std::fs::create_dir_all(&tmp)
            .with_context(|| format!("cannot create `{}`", tmp.display()))?;

        install(dir, &data, &tmp)?;

        if !options.tcp {
            return Self::launch(dir, options, None);
        }
        let mut attempt = 1;
        loop {
            let port = free_local_port()?;
            match Self::launch(dir, options, Some(port)) {
                Ok(server) => return Ok(server),
                Err(error)
                    if attempt < TCP_START_ATTEMPTS
                        && error.to_string().contains("Bind on TCP/IP port") =>
                {
                    attempt += 1;
                }
                Err(error) => return Err(error),
            }
        }
    }

    fn launch(
        dir: &Path,
        options: &ScratchOptions,
        port: Option<u16>,
    ) -> anyhow::Result<ScratchServer> {
        let socket = dir.join("mysqld.sock");
        let tmp = dir.join("tmp");
        let error_log = dir.join("error.log");
        let child = Command::new("mariadbd")
            .arg("--no-defaults")
            .arg(format!("--datadir={}", dir.join("data").display()))
            .arg(format!("--socket={}", socket.display()))
            .arg(format!("--pid-file={}", dir.join("mysqld.pid").display()))
            .arg(format!("--log-error={}", error_log.display()))
            .arg(format!("--tmpdir={}", tmp.display()))
            .args(server_options(dir, options, port))
            .env("TMPDIR", &tmp)
            .args([
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
            port,
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

    /// The TCP port on 127.0.0.1, when the server listens on one.
    pub fn port(&self) -> Option<u16> {
        self.port
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

/// The networking, server id and binary log options of `options`.
fn server_options(dir: &Path, options: &ScratchOptions, port: Option<u16>) -> Vec<String> {
    let mut args = match port {
        Some(port) => vec![
            format!("--port={port}"),
            "--bind-address=127.0.0.1".to_string(),
            // Accounts name hosts by address, and a reverse lookup of
            // 127.0.0.1 would only slow down each connection.
            "--skip-name-resolve".to_string(),
        ],
        None => vec!["--skip-networking".to_string()],
    };
    if let Some(id) = options.server_id {
        args.push(format!("--server-id={id}"));
    }
    // Relay logs are named after the host unless named here.
    args.push(format!("--relay-log={}", dir.join("relay").display()));
    if options.binary_log {
        args.push(format!("--log-bin={}", dir.join("binlog").display()));
        args.push("--binlog-format=ROW".to_string());
    }
    args
}

/// A TCP port on 127.0.0.1 that was free a moment ago.
fn free_local_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0))
        .context("cannot find a free TCP port on 127.0.0.1")?;
    Ok(listener.local_addr()?.port())
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
