//! systemd services: act, then check the service is really active.

use std::time::Duration;

use super::error::RemoteError;
use super::host::{Cmd, Host};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServiceAction {
    Enable,
    Start,
    Stop,
    Reload,
    Restart,
    ReloadOrRestart,
}

impl ServiceAction {
    fn verb(self) -> &'static str {
        match self {
            ServiceAction::Enable => "enable",
            ServiceAction::Start => "start",
            ServiceAction::Stop => "stop",
            ServiceAction::Reload => "reload",
            ServiceAction::Restart => "restart",
            ServiceAction::ReloadOrRestart => "reload-or-restart",
        }
    }
}

/// Run `systemctl <action> <unit>`; unless stopping or enabling, check that
/// the unit is active afterwards, waiting briefly for it to settle.
pub async fn apply(host: &Host, unit: &str, action: ServiceAction) -> Result<(), RemoteError> {
    host.run(&Cmd::new(&["systemctl", action.verb(), unit]).timeout(Duration::from_secs(120)))
        .await?;
    if matches!(action, ServiceAction::Stop | ServiceAction::Enable) {
        return Ok(());
    }

    for _ in 0..20 {
        if is_active(host, unit).await? {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let status = host
        .run_unchecked(&Cmd::new(&["systemctl", "status", unit]))
        .await?;
    Err(RemoteError::CommandFailed {
        host: host.target.name.clone(),
        command: format!("systemctl {} {unit}", action.verb()),
        status: "0, but the unit is not active".to_string(),
        stderr: super::error::stderr_tail(&[status.stdout, status.stderr].concat(), 12),
    })
}

pub async fn is_active(host: &Host, unit: &str) -> Result<bool, RemoteError> {
    let output = host
        .run_unchecked(&Cmd::new(&["systemctl", "is-active", "--quiet", unit]))
        .await?;
    Ok(output.success())
}
