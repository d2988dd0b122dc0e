//! The run lock: one run at a time per state folder.
//!
//! The lock file holds its holder (pid, host, process start time, command,
//! start time). It is created with a hard link from a complete temporary
//! file, so another process never reads a half-written lock. A lock whose
//! holder is gone (same host, process no longer running or its pid reused)
//! is stale and taken over with a warning.

use std::path::{Path, PathBuf};

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::error::{ExitCode, HasExitCode};
use crate::fsutil;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockHolder {
    pub pid: u32,
    pub host: String,
    /// Start time of the holder process in clock ticks since boot, to tell a
    /// reused pid from the holder.
    pub process_start: Option<u64>,
    pub started_at: Timestamp,
    pub command: String,
    pub run_id: Option<String>,
}

impl LockHolder {
    /// This process, running `command`.
    pub fn current(command: &str, run_id: Option<&str>) -> Self {
        let pid = std::process::id();
        Self {
            pid,
            host: hostname(),
            process_start: process_start_ticks(pid),
            started_at: Timestamp::now(),
            command: command.to_string(),
            run_id: run_id.map(str::to_string),
        }
    }

    pub fn describe(&self) -> String {
        let run = self
            .run_id
            .as_deref()
            .map(|id| format!(", run {id}"))
            .unwrap_or_default();
        format!(
            "`{}` (pid {} on host `{}`, started {}{run})",
            self.command,
            self.pid,
            self.host,
            self.started_at.strftime("%Y-%m-%d %H:%M:%S UTC")
        )
    }
}

/// Whether a lock's holder still runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Liveness {
    Alive,
    /// The holder ran on this host and is gone.
    Gone,
    /// The holder ran on another host; wwctl cannot tell.
    Unknown,
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("another run holds the lock: {}", .holder.describe())]
    Held {
        holder: Box<LockHolder>,
        path: PathBuf,
    },
    #[error("cannot use the lock file `{path}`: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the lock file `{path}` is not valid: {message}")]
    Invalid { path: PathBuf, message: String },
}

impl HasExitCode for LockError {
    fn exit_code(&self) -> ExitCode {
        match self {
            LockError::Held { .. } => ExitCode::Locked,
            _ => ExitCode::Failure,
        }
    }
}

impl LockError {
    pub fn hint(&self) -> Option<String> {
        match self {
            LockError::Held { holder, .. } if holder.host != hostname() => Some(format!(
                "wait for it to finish; if it no longer runs on `{}`, remove the lock with `wwctl unlock --force`",
                holder.host
            )),
            LockError::Held { .. } => {
                Some("wait for it to finish, or stop it with Ctrl-C".to_string())
            }
            LockError::Invalid { .. } => {
                Some("remove it with `wwctl unlock --force` if no run is active".to_string())
            }
            LockError::Io { .. } => None,
        }
    }
}

/// The lock held by this process; dropping it releases the lock.
#[derive(Debug)]
pub struct RunLock {
    path: PathBuf,
    holder: LockHolder,
}

impl RunLock {
    pub fn holder(&self) -> &LockHolder {
        &self.holder
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for RunLock {
    fn drop(&mut self) {
        release(&self.path, &self.holder);
    }
}

/// Remove the lock file at `path` only while it still names `holder`, so a
/// lock that `unlock --force` handed to another run is left alone.
pub fn release(path: &Path, holder: &LockHolder) {
    if let Ok(Some(current)) = read_holder(path)
        && current.pid == holder.pid
        && current.host == holder.host
    {
        let _ = std::fs::remove_file(path);
    }
}

/// Take the lock at `path` for `holder`. A stale lock is taken over; a live
/// or unknown holder makes this fail with `LockError::Held`.
pub fn acquire(path: &Path, holder: LockHolder) -> Result<RunLock, LockError> {
    let io = |source| LockError::Io {
        path: path.to_path_buf(),
        source,
    };
    let bytes = serde_json::to_vec_pretty(&holder).expect("lock holder serializes");
    let temp = path.with_extension(format!("{}.tmp", std::process::id()));
    fsutil::write_atomic(&temp, &bytes, 0o600).map_err(io)?;

    let result = link_or_take_over(path, &temp, &holder);
    let _ = std::fs::remove_file(&temp);
    result?;
    Ok(RunLock {
        path: path.to_path_buf(),
        holder,
    })
}

fn link_or_take_over(path: &Path, temp: &Path, holder: &LockHolder) -> Result<(), LockError> {
    let io = |source| LockError::Io {
        path: path.to_path_buf(),
        source,
    };
    for _ in 0..3 {
        match std::fs::hard_link(temp, path) {
            Ok(()) => return Ok(()),
            Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(error) => return Err(io(error)),
        }

        let Some(current) = read_holder(path)? else {
            continue;
        };
        match liveness(&current) {
            Liveness::Gone => {
                tracing::warn!(holder = %current.describe(), "taking over a stale lock whose holder no longer runs");
                remove_if_unchanged(path, &current).map_err(io)?;
            }
            Liveness::Alive | Liveness::Unknown => {
                return Err(LockError::Held {
                    holder: Box::new(current),
                    path: path.to_path_buf(),
                });
            }
        }
    }

    let _ = holder;
    Err(LockError::Invalid {
        path: path.to_path_buf(),
        message: "the lock changed hands repeatedly while wwctl tried to take it".to_string(),
    })
}

/// Remove a stale lock, unless another process replaced it meanwhile.
fn remove_if_unchanged(path: &Path, expected: &LockHolder) -> std::io::Result<()> {
    match read_holder(path) {
        Ok(Some(current)) if &current == expected => std::fs::remove_file(path),
        _ => Ok(()),
    }
}

/// Reads the holder named in the lock file, `None` when there is no lock.
pub fn read_holder(path: &Path) -> Result<Option<LockHolder>, LockError> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(LockError::Io {
                path: path.to_path_buf(),
                source,
            });
        }
    };
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|error| LockError::Invalid {
            path: path.to_path_buf(),
            message: error.to_string(),
        })
}

/// Checks whether the lock's holder still runs.
pub fn liveness(holder: &LockHolder) -> Liveness {
    if holder.host != hostname() {
        return Liveness::Unknown;
    }
    if !process_exists(holder.pid) {
        return Liveness::Gone;
    }
    match (holder.process_start, process_start_ticks(holder.pid)) {
        (Some(expected), Some(actual)) if expected != actual => Liveness::Gone,
        _ => Liveness::Alive,
    }
}

fn process_exists(pid: u32) -> bool {
    let Ok(raw) = i32::try_from(pid) else {
        return false;
    };
    match nix::sys::signal::kill(nix::unistd::Pid::from_raw(raw), None) {
        Ok(()) => !is_zombie(pid),
        Err(nix::errno::Errno::EPERM) => true,
        Err(_) => false,
    }
}

/// Checks for a zombie: a killed process stays one until its parent reaps
/// it, and it no longer runs.
fn is_zombie(pid: u32) -> bool {
    stat_fields(pid).is_some_and(|fields| fields.first().is_some_and(|state| *state == "Z"))
}

/// Start time of a process in clock ticks since boot (field 22 of `/proc/PID/stat`).
fn process_start_ticks(pid: u32) -> Option<u64> {
    stat_fields(pid)?.get(19)?.parse().ok()
}

/// Reads the fields of `/proc/PID/stat` after the command name, which may
/// itself contain spaces and parentheses. Field 3 (state) comes first.
fn stat_fields(pid: u32) -> Option<Vec<String>> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_name = &text[text.rfind(')')? + 1..];
    Some(after_name.split_whitespace().map(str::to_string).collect())
}

pub fn hostname() -> String {
    nix::unistd::gethostname()
        .ok()
        .and_then(|name| name.into_string().ok())
        .unwrap_or_else(|| "unknown".to_string())
}

#[cfg(test)]
mod tests {
    use super::{Liveness, LockError, LockHolder, acquire, liveness, read_holder};

    #[test]
    fn second_acquire_is_refused_naming_holder() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lock");
        let _held = acquire(&path, LockHolder::current("wwctl migrate", Some("run-1"))).unwrap();

        let error = acquire(&path, LockHolder::current("wwctl teardown", None)).unwrap_err();
        assert!(matches!(error, LockError::Held { .. }));
        assert!(error.to_string().contains("`wwctl migrate`"), "{error}");
        assert!(error.to_string().contains("run-1"), "{error}");
    }

    #[test]
    fn stale_lock_is_taken_over() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lock");
        let mut gone = LockHolder::current("wwctl migrate", None);
        gone.pid = u32::MAX - 7;
        std::fs::write(&path, serde_json::to_vec(&gone).unwrap()).unwrap();
        assert_eq!(liveness(&gone), Liveness::Gone);

        let lock = acquire(&path, LockHolder::current("wwctl migrate", None)).unwrap();
        assert_eq!(read_holder(&path).unwrap().unwrap().pid, std::process::id());
        drop(lock);
        assert!(
            read_holder(&path).unwrap().is_none(),
            "dropping the lock removes the file"
        );
    }

    #[test]
    fn lock_of_other_host_is_not_taken() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lock");
        let mut other = LockHolder::current("wwctl migrate", None);
        other.host = "another-machine".to_string();
        std::fs::write(&path, serde_json::to_vec(&other).unwrap()).unwrap();

        let error = acquire(&path, LockHolder::current("wwctl migrate", None)).unwrap_err();
        assert!(error.hint().unwrap().contains("wwctl unlock --force"));
    }
}
