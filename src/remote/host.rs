//! A connected server: one multiplexed SSH master, commands as argument
//! vectors, at most `MAX_CHANNELS` at once.

use std::sync::Arc;
use std::time::Duration;

use openssh::{KnownHosts as Checking, Session, SessionBuilder, Stdio};
use tokio::io::AsyncWriteExt;
use tokio::sync::{Mutex, OwnedSemaphorePermit, Semaphore};

use super::error::{RemoteError, stderr_tail};
use super::keyscan;
use super::known_hosts::{KnownHosts, fingerprints, host_pattern, same_key};
use super::quote::shell_command;
use super::settings::SshSettings;

/// sshd allows 10 sessions per connection by default (`MaxSessions`); one
/// is kept free so a command never gets "Session open refused by peer".
pub const MAX_CHANNELS: usize = 9;

/// Lines of stderr an error message shows.
const STDERR_TAIL_LINES: usize = 12;
/// Tries to open a channel through a master connection that refuses it.
const MUX_CONNECT_ATTEMPTS: u32 = 4;

/// The address and user of a login.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// The inventory name, for messages.
    pub name: String,
    pub address: String,
    pub port: u16,
    pub user: String,
}

impl Target {
    pub fn new(name: &str, address: &str) -> Self {
        Self {
            name: name.to_string(),
            address: address.to_string(),
            port: 22,
            user: "root".to_string(),
        }
    }

    pub fn pattern(&self) -> String {
        host_pattern(&self.address, self.port)
    }
}

/// A remote command: an argument vector with its limits.
#[derive(Clone, Debug)]
pub struct Cmd {
    pub argv: Vec<String>,
    pub timeout: Option<Duration>,
    /// Run as root through `sudo -n` when the login user is not root.
    pub privileged: bool,
}

impl Cmd {
    pub fn new<S: AsRef<str>>(argv: &[S]) -> Self {
        Self {
            argv: argv.iter().map(|arg| arg.as_ref().to_string()).collect(),
            timeout: None,
            privileged: true,
        }
    }

    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Show the command as a user would type it.
    pub fn display(&self) -> String {
        shell_command(&self.argv)
    }
}

/// The result of a command that ran to its end.
#[derive(Clone, Debug)]
pub struct Output {
    pub status: i32,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

impl Output {
    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    pub fn success(&self) -> bool {
        self.status == 0
    }
}

/// A logged-in server.
#[derive(Debug)]
pub struct Host {
    pub target: Target,
    session: Arc<Session>,
    channels: Arc<Semaphore>,
    default_timeout: Duration,
}

impl Host {
    /// Open the master connection, with OpenSSH checking the server's host
    /// key against wwctl's known_hosts only. A key that is unknown or does
    /// not match stops here, before any command runs: a failed connection
    /// looks at the presented keys to say which.
    pub async fn connect(
        settings: &SshSettings,
        known: &Mutex<KnownHosts>,
        target: Target,
    ) -> Result<Self, RemoteError> {
        if known.lock().await.keys_for(&target.pattern()).is_empty() {
            return Err(RemoteError::UnknownHostKey {
                host: target.name.clone(),
                address: target.address.clone(),
            });
        }

        let mut builder = SessionBuilder::default();
        builder
            .known_hosts_check(Checking::Strict)
            .user_known_hosts_file(&settings.known_hosts)
            .config_file(&settings.config_file)
            .control_directory(&settings.control_dir)
            .connect_timeout(settings.connect_timeout)
            .server_alive_interval(Duration::from_secs(15))
            .user(target.user.clone())
            .port(target.port);
        if let Some(identity) = &settings.identity {
            builder.keyfile(identity);
        }

        let session = match builder.connect_mux(&target.address).await {
            Ok(session) => session,
            Err(error) => {
                verify_host_key(settings, known, &target).await?;
                return Err(RemoteError::Unreachable {
                    host: target.name.clone(),
                    address: target.address.clone(),
                    reason: error.to_string(),
                });
            }
        };
        tracing::debug!(host = %target.name, address = %target.address, "SSH master connected");

        Ok(Self {
            target,
            session: Arc::new(session),
            channels: Arc::new(Semaphore::new(MAX_CHANNELS)),
            default_timeout: settings.command_timeout,
        })
    }

    /// Run `cmd`; a non-zero exit status is an error naming the host, the
    /// command, the status and the end of stderr.
    pub async fn run(&self, cmd: &Cmd) -> Result<Output, RemoteError> {
        let output = self.run_unchecked(cmd).await?;
        if output.success() {
            return Ok(output);
        }
        Err(self.failed(cmd, &output))
    }

    /// Run `cmd` with `input` on its stdin; fails like `run`.
    pub async fn run_with_input(&self, cmd: &Cmd, input: &[u8]) -> Result<Output, RemoteError> {
        let output = self.execute(cmd, Some(input)).await?;
        if output.success() {
            return Ok(output);
        }
        Err(self.failed(cmd, &output))
    }

    /// Run `cmd` and return its output whatever its exit status.
    pub async fn run_unchecked(&self, cmd: &Cmd) -> Result<Output, RemoteError> {
        self.execute(cmd, None).await
    }

    /// Run `cmd` with `input` on its stdin and return its output whatever
    /// its exit status.
    pub async fn run_unchecked_with_input(
        &self,
        cmd: &Cmd,
        input: &[u8],
    ) -> Result<Output, RemoteError> {
        self.execute(cmd, Some(input)).await
    }

    /// Builds the error for a command that ran and failed.
    pub fn failed(&self, cmd: &Cmd, output: &Output) -> RemoteError {
        RemoteError::CommandFailed {
            host: self.target.name.clone(),
            command: cmd.display(),
            status: output.status.to_string(),
            stderr: stderr_tail(&output.stderr, STDERR_TAIL_LINES),
        }
    }

    async fn execute(&self, cmd: &Cmd, input: Option<&[u8]>) -> Result<Output, RemoteError> {
        let _permit = self.channel().await;
        let timeout = cmd.timeout.unwrap_or(self.default_timeout);
        let command_text = self.command_text(cmd);
        tracing::debug!(host = %self.target.name, command = %cmd.display(), "remote command");

        let run = async {
            let mut child = self
                .spawn_with_retry(&command_text, input.is_some())
                .await?;

            if let Some(bytes) = input
                && let Some(mut stdin) = child.stdin().take()
            {
                stdin
                    .write_all(bytes)
                    .await
                    .map_err(openssh::Error::ChildIo)?;
                stdin.shutdown().await.map_err(openssh::Error::ChildIo)?;
                drop(stdin);
            }
            child.wait_with_output().await
        };

        let output = match tokio::time::timeout(timeout, run).await {
            Err(_) => {
                return Err(RemoteError::Timeout {
                    host: self.target.name.clone(),
                    command: cmd.display(),
                    seconds: timeout.as_secs(),
                });
            }
            Ok(Err(error)) => return Err(self.transport(cmd, &error)),
            Ok(Ok(output)) => output,
        };

        // A status without a code means the remote process died of a
        // signal or the connection dropped before it exited.
        let status = output.status.code().ok_or_else(|| RemoteError::Transport {
            host: self.target.name.clone(),
            command: cmd.display(),
            reason: "the command ended without an exit status (killed, or the connection dropped)"
                .to_string(),
        })?;
        Ok(Output {
            status,
            stdout: output.stdout,
            stderr: output.stderr,
        })
    }

    /// Start a command on the master connection. A busy master may refuse
    /// a new channel's connection to its control socket; nothing has run
    /// then, so the start is tried again a few times.
    async fn spawn_with_retry(
        &self,
        command_text: &str,
        piped_input: bool,
    ) -> Result<openssh::Child<&Session>, openssh::Error> {
        let mut attempt = 1;
        loop {
            let mut command = self.session.raw_command(command_text);
            command.stdout(Stdio::piped()).stderr(Stdio::piped());
            command.stdin(if piped_input {
                Stdio::piped()
            } else {
                Stdio::null()
            });
            match command.spawn().await {
                Err(openssh::Error::SshMux(error)) if attempt < MUX_CONNECT_ATTEMPTS => {
                    tracing::debug!(host = %self.target.name, attempt, %error, "control socket refused a channel; trying again");
                    tokio::time::sleep(Duration::from_millis(100) * attempt).await;
                    attempt += 1;
                }
                result => return result,
            }
        }
    }

    /// Spawn `cmd` with piped stdin, stdout and stderr for streaming. The
    /// child owns a channel permit for as long as it lives.
    pub async fn spawn_streaming(&self, cmd: &Cmd) -> Result<StreamingChild, RemoteError> {
        let permit = self.channel().await;
        tracing::debug!(host = %self.target.name, command = %cmd.display(), "remote command, streaming");
        let mut command = Session::to_raw_command(self.session.clone(), self.command_text(cmd));
        command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let child = command
            .spawn()
            .await
            .map_err(|error| self.transport(cmd, &error))?;
        Ok(StreamingChild {
            child,
            _permit: permit,
        })
    }

    /// Builds the text sent to sshd: the quoted argument vector, behind
    /// `sudo -n --` when the login user is not root.
    fn command_text(&self, cmd: &Cmd) -> String {
        if cmd.privileged && self.target.user != "root" {
            let mut argv = vec!["sudo".to_string(), "-n".to_string(), "--".to_string()];
            argv.extend(cmd.argv.iter().cloned());
            shell_command(&argv)
        } else {
            shell_command(&cmd.argv)
        }
    }

    async fn channel(&self) -> OwnedSemaphorePermit {
        self.channels
            .clone()
            .acquire_owned()
            .await
            .expect("the channel semaphore is never closed")
    }

    fn transport(&self, cmd: &Cmd, error: &openssh::Error) -> RemoteError {
        RemoteError::Transport {
            host: self.target.name.clone(),
            command: cmd.display(),
            reason: error.to_string(),
        }
    }

    /// Path of the master connection's control socket.
    pub fn control_socket(&self) -> &std::path::Path {
        self.session.control_socket()
    }

    /// Close the master connection once no command uses it any more.
    pub async fn close(self) {
        if let Ok(session) = Arc::try_unwrap(self.session) {
            let _ = session.close().await;
        }
    }
}

/// A running remote command with its pipes.
pub struct StreamingChild {
    pub child: openssh::Child<Arc<Session>>,
    _permit: OwnedSemaphorePermit,
}

/// Compare the keys the server presents with the ones pinned for it, to
/// explain a connection that failed.
async fn verify_host_key(
    settings: &SshSettings,
    known: &Mutex<KnownHosts>,
    target: &Target,
) -> Result<(), RemoteError> {
    let pattern = target.pattern();
    let expected: Vec<ssh_key::PublicKey> = known
        .lock()
        .await
        .keys_for(&pattern)
        .into_iter()
        .cloned()
        .collect();
    if expected.is_empty() {
        return Err(RemoteError::UnknownHostKey {
            host: target.name.clone(),
            address: target.address.clone(),
        });
    }

    let presented = keyscan::presented_keys(&target.address, target.port, settings.connect_timeout)
        .await
        .map_err(|error| RemoteError::Unreachable {
            host: target.name.clone(),
            address: target.address.clone(),
            reason: error.to_string(),
        })?;
    if presented.is_empty() {
        return Err(RemoteError::Unreachable {
            host: target.name.clone(),
            address: target.address.clone(),
            reason: "the server presented no host key (is sshd running?)".to_string(),
        });
    }

    let matches = presented
        .iter()
        .any(|key| expected.iter().any(|pinned| same_key(pinned, key)));
    if !matches {
        return Err(RemoteError::HostKeyMismatch {
            host: target.name.clone(),
            address: target.address.clone(),
            expected: fingerprints(expected.iter()),
            presented: fingerprints(presented.iter()),
        });
    }
    Ok(())
}
