//! Errors of remote execution, each naming the host and what was run.

use crate::error::{ExitCode, HasExitCode};

#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    #[error(
        "host key of `{host}` ({address}) does not match: expected {expected}, the server presented {presented}; nothing was run"
    )]
    HostKeyMismatch {
        host: String,
        address: String,
        expected: String,
        presented: String,
    },
    #[error("no host key of `{host}` ({address}) is known, so wwctl cannot verify it")]
    UnknownHostKey { host: String, address: String },
    #[error("cannot reach `{host}` ({address}) over SSH: {reason}")]
    Unreachable {
        host: String,
        address: String,
        reason: String,
    },
    #[error("on `{host}`, `{command}` failed with exit status {status}{stderr}")]
    CommandFailed {
        host: String,
        command: String,
        status: String,
        /// The last lines of stderr, prefixed for display.
        stderr: String,
    },
    #[error("on `{host}`, `{command}` timed out after {seconds}s")]
    Timeout {
        host: String,
        command: String,
        seconds: u64,
    },
    #[error("SSH connection to `{host}` failed while running `{command}`: {reason}")]
    Transport {
        host: String,
        command: String,
        reason: String,
    },
}

impl HasExitCode for RemoteError {
    fn exit_code(&self) -> ExitCode {
        ExitCode::Remote
    }
}

impl RemoteError {
    /// Suggests what the user can do about the error.
    pub fn hint(&self) -> Option<String> {
        match self {
            RemoteError::HostKeyMismatch { host, .. } => Some(format!(
                "if `{host}` was rebuilt on purpose, check the new key on the provider's console and run `wwctl hosts trust {host}`; otherwise treat this as an attack and do not connect"
            )),
            RemoteError::UnknownHostKey { host, .. } => Some(format!(
                "add the server's host keys to the inventory (`host_keys`) or run `wwctl hosts trust {host}`"
            )),
            RemoteError::Unreachable { .. } => Some("check that the server runs, that its firewall allows SSH from here, and that your key is on it".to_string()),
            _ => None,
        }
    }
}

/// Formats the last `lines` lines of `stderr` for an error message.
pub fn stderr_tail(stderr: &[u8], lines: usize) -> String {
    let text = String::from_utf8_lossy(stderr);
    let tail: Vec<&str> = text
        .lines()
        .filter(|line| !line.trim().is_empty())
        .collect();
    let start = tail.len().saturating_sub(lines);
    if tail.is_empty() {
        String::new()
    } else {
        format!("; stderr ends with:\n{}", tail[start..].join("\n"))
    }
}
