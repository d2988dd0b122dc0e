//! The controller's SSH key pair for the sandbox, which the sandbox
//! registers as the account key `wwdtm-ops`.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::Context;
use ssh_key::{Algorithm, LineEnding, PrivateKey};

use super::layout::{CONTROLLER_KEY_NAME, LabLayout};
use super::record::write_atomic;
use super::template::make_folder;

/// The controller key's files and public key.
#[derive(Clone, Debug)]
pub struct ControllerKey {
    /// The account key name (`wwdtm-ops`).
    pub name: &'static str,
    /// The private key in OpenSSH format, mode 0600.
    pub private_key_path: PathBuf,
    pub public_key_path: PathBuf,
    /// The public key line (`ssh-ed25519 AAAA... wwdtm-ops@wwctl-sandbox`).
    pub public_key: String,
}

/// Generate a new ed25519 key pair into the lab's `keys` folder.
pub fn generate(layout: &LabLayout) -> anyhow::Result<ControllerKey> {
    make_folder(&layout.keys(), 0o700, None)?;
    let mut key = PrivateKey::random(&mut ssh_key::rand_core::OsRng, Algorithm::Ed25519)
        .context("cannot generate the controller key")?;
    key.set_comment(format!("{CONTROLLER_KEY_NAME}@wwctl-sandbox"));
    let private = key.to_openssh(LineEnding::LF)?;
    let public = key.public_key().to_openssh()?;

    write_atomic(&layout.controller_key(), private.as_bytes(), 0o600)?;
    write_atomic(
        &layout.controller_public_key(),
        format!("{public}\n").as_bytes(),
        0o644,
    )?;
    load(layout)
}

/// Load the controller key of a running lab.
pub fn load(layout: &LabLayout) -> anyhow::Result<ControllerKey> {
    let public_key_path = layout.controller_public_key();
    let public_key = read_trimmed(&public_key_path)?;
    Ok(ControllerKey {
        name: CONTROLLER_KEY_NAME,
        private_key_path: layout.controller_key(),
        public_key_path,
        public_key,
    })
}

fn read_trimmed(path: &Path) -> anyhow::Result<String> {
    Ok(fs::read_to_string(path)
        .with_context(|| format!("cannot read `{}`; is the lab up?", path.display()))?
        .trim()
        .to_string())
}
