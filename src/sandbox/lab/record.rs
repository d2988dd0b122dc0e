//! The records a lab keeps on disk, so a later process (`sandbox down`
//! after a crash, `sandbox exec`) can find what the lab made.

use std::fs;
use std::io::Write;
use std::net::Ipv4Addr;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::{Deserialize, Serialize};

/// The version of the record format, written into every record.
pub const RECORD_VERSION: u32 = 1;

/// The lab as a whole (`lab.json`). Its presence marks the folder as the
/// lab's own.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LabRecord {
    pub version: u32,
    pub bridge: String,
    pub started_at: String,
    /// The git daemon's process id, once it runs.
    pub git_daemon_pid: Option<u32>,
}

/// Whether a host's services run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Power {
    On,
    Off,
}

/// One droplet's host (`hosts/<droplet id>/host.json`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct HostRecord {
    pub version: u32,
    pub droplet_id: u64,
    pub name: String,
    pub address: Ipv4Addr,
    pub netns: String,
    pub veth: String,
    /// The `unshare` process holding the host's namespaces, seen from the
    /// machine.
    pub unshare_pid: Option<u32>,
    /// The host's PID 1 (`wwctl sandbox lab host-init`), seen from the
    /// machine.
    pub init_pid: Option<u32>,
    pub power: Power,
    pub booted_at: String,
}

/// Read a JSON record, naming the file on failure.
pub fn read<T: for<'de> Deserialize<'de>>(path: &Path) -> anyhow::Result<T> {
    let text =
        fs::read_to_string(path).with_context(|| format!("cannot read `{}`", path.display()))?;
    serde_json::from_str(&text)
        .with_context(|| format!("`{}` is not a valid record", path.display()))
}

/// Write a JSON record atomically (temporary file, then rename).
pub fn write<T: Serialize>(path: &Path, record: &T) -> anyhow::Result<()> {
    let mut text = serde_json::to_string_pretty(record)?;
    text.push('\n');
    write_atomic(path, text.as_bytes(), 0o600)
}

/// Write `bytes` to `path` through a temporary file in the same folder, so
/// readers see the old or the new content and never a part.
pub fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> anyhow::Result<()> {
    let temporary = temporary_path(path);
    let result = (|| -> std::io::Result<()> {
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(mode)
            .open(&temporary)?;
        file.set_permissions(fs::Permissions::from_mode(mode))?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&temporary, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&temporary);
    }
    result.with_context(|| format!("cannot write `{}`", path.display()))
}

fn temporary_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.tmp"))
}

/// Return the current time as an RFC 3339 timestamp.
pub fn now() -> String {
    jiff::Timestamp::now()
        .round(jiff::Unit::Second)
        .unwrap_or_default()
        .to_string()
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::{LabRecord, RECORD_VERSION, read, write};

    #[test]
    fn record_round_trips_with_owner_only_mode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lab.json");
        let record = LabRecord {
            version: RECORD_VERSION,
            bridge: "wwlab0".into(),
            started_at: "2026-12-04T20:00:00Z".into(),
            git_daemon_pid: Some(42),
        };
        write(&path, &record).unwrap();

        let back: LabRecord = read(&path).unwrap();
        assert_eq!(back.git_daemon_pid, Some(42));
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
}
