//! Gates a new server passes before wwctl configures it: SSH accepts the
//! pinned key, cloud-init finished, and the dpkg lock is free.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Mutex;

use super::error::RemoteError;
use super::host::{Cmd, Host, Target};
use super::known_hosts::KnownHosts;
use super::settings::SshSettings;
use crate::clock::Clock;

/// Connects to `target`, retrying while it is unreachable, until `timeout`.
/// A host key that does not match fails at once: retrying would not help.
pub async fn wait_for_ssh(
    settings: &SshSettings,
    known: &Mutex<KnownHosts>,
    target: Target,
    clock: &Arc<dyn Clock>,
    timeout: Duration,
) -> Result<Host, RemoteError> {
    let deadline = clock.deadline(timeout);
    let mut delay = Duration::from_millis(500);
    loop {
        match Host::connect(settings, known, target.clone()).await {
            Ok(host) => return Ok(host),
            Err(RemoteError::Unreachable { reason, .. }) if clock.now() < deadline => {
                tracing::debug!(host = %target.name, %reason, "SSH not ready yet");
                clock.sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
            Err(error) => return Err(error),
        }
    }
}

/// Wait until cloud-init finished (`cloud-init status --wait`). A server
/// without cloud-init passes.
pub async fn wait_for_cloud_init(host: &Host, timeout: Duration) -> Result<(), RemoteError> {
    let cmd = Cmd::new(&["cloud-init", "status", "--wait"]).timeout(timeout);
    let output = host.run_unchecked(&cmd).await?;
    match output.status {
        // 2 means finished with recoverable errors: the boot is over.
        0 | 2 => Ok(()),
        127 => {
            tracing::debug!(host = %host.target.name, "no cloud-init on this server");
            Ok(())
        }
        _ => Err(host.failed(&cmd, &output)),
    }
}

/// Wait until no process holds the dpkg locks.
pub async fn wait_for_dpkg_lock(
    host: &Host,
    clock: &Arc<dyn Clock>,
    timeout: Duration,
) -> Result<(), RemoteError> {
    let deadline = clock.deadline(timeout);
    let cmd = Cmd::new(&[
        "fuser",
        "-s",
        "/var/lib/dpkg/lock-frontend",
        "/var/lib/dpkg/lock",
    ]);
    loop {
        let output = host.run_unchecked(&cmd).await?;
        // fuser exits 0 when some process uses a file, 1 when none does.
        if output.status != 0 {
            return Ok(());
        }
        if clock.now() >= deadline {
            return Err(RemoteError::Timeout {
                host: host.target.name.clone(),
                command: "wait for the dpkg lock".to_string(),
                seconds: timeout.as_secs(),
            });
        }
        clock.sleep(Duration::from_secs(1)).await;
    }
}
