//! Debian packages: install what is missing, non-interactively, waiting for
//! the dpkg lock instead of failing on it.

use std::time::Duration;

use super::error::RemoteError;
use super::host::{Cmd, Host};

/// How long apt waits for another process's dpkg lock.
const LOCK_TIMEOUT_SECONDS: u64 = 300;
const INSTALL_TIMEOUT: Duration = Duration::from_secs(1800);
const LOCK_RETRIES: usize = 3;

/// Lists the packages of `required` that are not installed on `host`.
pub async fn missing(host: &Host, required: &[String]) -> Result<Vec<String>, RemoteError> {
    if required.is_empty() {
        return Ok(Vec::new());
    }
    let mut argv = vec![
        "dpkg-query".to_string(),
        "-W".to_string(),
        "-f=${Package} ${db:Status-Abbrev}\\n".to_string(),
    ];
    argv.extend(required.iter().cloned());
    // dpkg-query exits 1 when a package is unknown; its output still lists the rest.
    let output = host.run_unchecked(&Cmd::new(&argv)).await?;

    let installed: Vec<String> = output
        .stdout_text()
        .lines()
        .filter_map(|line| {
            let (name, status) = line.split_once(' ')?;
            status
                .starts_with("ii")
                .then(|| name.split(':').next().unwrap_or(name).to_string())
        })
        .collect();
    Ok(required
        .iter()
        .filter(|package| !installed.contains(package))
        .cloned()
        .collect())
}

/// Installs the packages of `required` that are missing and returns them.
pub async fn ensure(host: &Host, required: &[String]) -> Result<Vec<String>, RemoteError> {
    let missing = missing(host, required).await?;
    if missing.is_empty() {
        return Ok(missing);
    }

    let mut argv = vec![
        "env".to_string(),
        "DEBIAN_FRONTEND=noninteractive".to_string(),
        "apt-get".to_string(),
        "-o".to_string(),
        format!("DPkg::Lock::Timeout={LOCK_TIMEOUT_SECONDS}"),
        "install".to_string(),
        "-y".to_string(),
        "--no-install-recommends".to_string(),
    ];
    argv.extend(missing.iter().cloned());
    let cmd = Cmd::new(&argv).timeout(INSTALL_TIMEOUT);

    let mut attempt = 0;
    loop {
        attempt += 1;
        let output = host.run_unchecked(&cmd).await?;
        if output.success() {
            tracing::info!(host = %host.target.name, packages = ?missing, "packages installed");
            return Ok(missing);
        }
        let stderr = String::from_utf8_lossy(&output.stderr);
        let locked = stderr.contains("Could not get lock") || stderr.contains("dpkg frontend lock");
        if !locked || attempt >= LOCK_RETRIES {
            return Err(host.failed(&cmd, &output));
        }
        tracing::debug!(host = %host.target.name, attempt, "dpkg lock busy; retrying apt-get");
    }
}
