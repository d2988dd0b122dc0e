//! cloud-init's progress inside a host (`/run/cloud-init/status.json`),
//! written by the host's boot and read by the `cloud-init status`
//! stand-in.

use std::fs;
use std::io::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::sandbox::lab::record::{now, write_atomic};

pub const STATUS_FILE: &str = "/run/cloud-init/status.json";
pub const CLOUD_INIT_LOG: &str = "/var/log/cloud-init.log";
pub const OUTPUT_LOG: &str = "/var/log/cloud-init-output.log";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    Running,
    Done,
    Error,
}

/// The status file's content.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Status {
    pub status: Stage,
    /// Failures that make the boot an error (`status: error`, exit 1).
    pub errors: Vec<String>,
    /// Problems after which boot went on (exit 2, as cloud-init 23.4 and
    /// later report them).
    pub recoverable_errors: Vec<String>,
    pub last_update: String,
}

impl Status {
    pub fn running() -> Self {
        Self {
            status: Stage::Running,
            errors: Vec::new(),
            recoverable_errors: Vec::new(),
            last_update: now(),
        }
    }

    /// Read the status file, or return `None` before the boot wrote it.
    pub fn read() -> Option<Self> {
        serde_json::from_str(&fs::read_to_string(STATUS_FILE).ok()?).ok()
    }

    pub fn write(&mut self) {
        self.last_update = now();
        let text = serde_json::to_string_pretty(self).unwrap_or_default();
        if let Some(dir) = Path::new(STATUS_FILE).parent() {
            let _ = fs::create_dir_all(dir);
        }
        if let Err(error) = write_atomic(Path::new(STATUS_FILE), text.as_bytes(), 0o644) {
            log(&format!("cannot write the status: {error:#}"));
        }
    }

    pub fn error(&mut self, message: String) {
        log(&format!("ERROR: {message}"));
        self.errors.push(message);
    }

    pub fn recoverable(&mut self, message: String) {
        log(&format!("WARNING: {message}"));
        self.recoverable_errors.push(message);
    }

    /// Mark the boot finished: `error` if any error was recorded.
    pub fn finish(&mut self) {
        self.status = if self.errors.is_empty() {
            Stage::Done
        } else {
            Stage::Error
        };
        log(&format!("finished with status {:?}", self.status));
        self.write();
    }
}

/// Append a line to `/var/log/cloud-init.log`.
pub fn log(message: &str) {
    if let Ok(mut file) = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(CLOUD_INIT_LOG)
    {
        let _ = writeln!(file, "{} - cloud-init[lab]: {message}", now());
    }
}
