//! The lab side of `sandbox up`, `env`, `status` and `down`: the lab lives
//! in `<sandbox folder>/lab`, comes up before the daemon and goes down after
//! it, and its controller key becomes the sandbox account's `wwdtm-ops` key.

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde_json::json;

use crate::error::{HintExt, UserError};
use crate::sandbox::folder::{Runtime, SandboxDir};
use crate::sandbox::lab::status::LabStatus;
use crate::sandbox::lab::{Lab, LabConfig};
use crate::secret::Secret;

use super::http;

/// Returns the lab folder of a sandbox folder.
pub fn lab_dir(dir: &SandboxDir) -> PathBuf {
    dir.path.join("lab")
}

/// Checks whether this sandbox folder has a lab (made by `up` without `--api-only`).
pub fn has_lab(dir: &SandboxDir) -> bool {
    lab_dir(dir).join("keys").exists()
}

/// Bring the lab up, or reuse it when it still runs from an earlier
/// daemon of this folder (its hosts keep running across daemon restarts).
pub fn ensure_up(dir: &SandboxDir) -> anyhow::Result<Lab> {
    require_root(dir)?;
    let path = lab_dir(dir);
    let lab = Lab::open(&path)?;
    if lab.status().bridge_up && has_lab(dir) {
        return Ok(lab);
    }
    // A fresh lab has no hosts, so droplets recorded by an earlier run are
    // gone with their machines: start the API from a clean state too.
    let _ = std::fs::remove_file(dir.state_file());
    Lab::up(&LabConfig::new(Some(path))?)
}

/// Register the controller key as the account's `wwdtm-ops` SSH key, so
/// droplets created with that key name accept wwctl's logins.
pub fn register_controller_key(
    dir: &SandboxDir,
    runtime: &Runtime,
    token: &Secret,
) -> anyhow::Result<()> {
    let lab = Lab::open(&lab_dir(dir))?;
    let key = lab.controller_key()?;
    let body = json!({ "name": key.name, "public_key": key.public_key }).to_string();
    let reply = http::request(
        runtime.api,
        "POST",
        "/v2/account/keys",
        Some(token),
        Some(&body),
    )?;
    match reply.status {
        201 => Ok(()),
        // The key is on the account already (a restarted daemon).
        422 if reply.body.contains("already") => Ok(()),
        status => Err(anyhow::anyhow!(
            "registering the controller key failed with status {status}: {}",
            reply.body
        )),
    }
}

/// Lists the variables `sandbox env` adds for a lab: the SSH key and the CA.
pub fn env_variables(dir: &SandboxDir) -> anyhow::Result<Vec<(&'static str, String)>> {
    if !has_lab(dir) {
        return Ok(Vec::new());
    }
    let lab = Lab::open(&lab_dir(dir))?;
    let key = lab.controller_key()?;
    Ok(vec![
        (
            "WWCTL_SSH_IDENTITY",
            key.private_key_path.display().to_string(),
        ),
        (
            "WWCTL_CA_FILE",
            lab.ca_certificate_path().display().to_string(),
        ),
    ])
}

/// Returns the lab's status for `sandbox status`, when there is a lab.
pub fn status(dir: &SandboxDir) -> Option<LabStatus> {
    if !has_lab(dir) {
        return None;
    }
    let lab = Lab::open(&lab_dir(dir)).ok()?;
    Some(lab.status())
}

/// Take the lab down: every host, link, mount and process.
pub fn down(dir: &SandboxDir) -> anyhow::Result<bool> {
    let path = lab_dir(dir);
    if !path.exists() {
        return Ok(false);
    }
    require_root(dir)?;
    Lab::open(&path)?
        .down()
        .context("cannot take the lab down")?;
    let _ = std::fs::remove_file(dir.state_file());
    Ok(true)
}

/// Reject running a command in a lab host of a sandbox that runs API-only:
/// its droplets have no hosts behind them.
pub fn require_lab_hosts(dir: &SandboxDir) -> anyhow::Result<()> {
    let runtime = dir.running()?;
    check_lab_hosts(dir, runtime.as_ref())?;
    Ok(())
}

fn check_lab_hosts(dir: &SandboxDir, runtime: Option<&Runtime>) -> Result<(), UserError> {
    match runtime {
        Some(runtime) if runtime.api_only => Err(UserError::usage(format!(
            "the sandbox in `{}` runs API-only, and an API-only sandbox has no lab hosts",
            dir.path.display()
        ))
        .with_hint(format!(
            "restart it with lab hosts, as root: `{}`, then `{}`",
            dir.command("down"),
            dir.command("up")
        ))),
        _ => Ok(()),
    }
}

fn require_root(dir: &SandboxDir) -> anyhow::Result<()> {
    if nix::unistd::geteuid().is_root() {
        return Ok(());
    }
    Err(
        UserError::usage("lab hosts need root (network namespaces, mounts)")
            .with_hint(format!(
                "run as root, or start the API alone with `{}`",
                dir.command("up --api-only")
            ))
            .into(),
    )
}

/// Opens the lab that signs sandbox certificates, found through the sandbox
/// folder (`WWCTL_SANDBOX_DIR`, as `sandbox env` exports it).
pub fn lab_for_signing(sandbox_dir: &Path) -> anyhow::Result<Lab> {
    let path = sandbox_dir.join("lab");
    if !path.join("keys").exists() {
        let dir = SandboxDir::resolve(Some(sandbox_dir))?;
        return Err(anyhow::anyhow!("`{}` has no lab", sandbox_dir.display())).hint(format!(
            "start the sandbox with its lab hosts (`{}`) and export `{}`",
            dir.command("up"),
            dir.command("env")
        ));
    }
    Lab::open(&path)
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::check_lab_hosts;
    use crate::sandbox::folder::{Runtime, SandboxDir};

    fn runtime(api_only: bool) -> Runtime {
        Runtime {
            pid: 1,
            api: "127.0.0.1:8080".parse().unwrap(),
            dns: "127.0.0.1:5353".parse().unwrap(),
            api_only,
            time_scale: 1.0,
            public_url: "http://127.0.0.1:8080".to_string(),
            started_at: jiff::Timestamp::UNIX_EPOCH,
            version: "0.1.0".to_string(),
        }
    }

    #[test]
    fn api_only_sandbox_has_no_lab_hosts() {
        let dir = SandboxDir {
            path: PathBuf::from("/tmp/sb"),
            non_default: true,
        };
        let error = check_lab_hosts(&dir, Some(&runtime(true))).unwrap_err();
        assert!(
            error
                .message
                .contains("an API-only sandbox has no lab hosts"),
            "{}",
            error.message
        );
        let hint = error.hint.unwrap();
        assert!(
            hint.contains("`wwctl sandbox --dir /tmp/sb down`"),
            "{hint}"
        );
        assert!(hint.contains("`wwctl sandbox --dir /tmp/sb up`"), "{hint}");
    }

    #[test]
    fn sandbox_with_lab_passes() {
        let dir = SandboxDir {
            path: PathBuf::from("/tmp/sb"),
            non_default: false,
        };
        assert!(check_lab_hosts(&dir, Some(&runtime(false))).is_ok());
        assert!(check_lab_hosts(&dir, None).is_ok());
    }
}
