//! The state folder: journals, the run lock, known host keys, owned
//! resources and logs. It contains no secrets.

use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::error::HintExt;
use crate::fsutil;

#[derive(Clone, Debug)]
pub struct StateDir {
    root: PathBuf,
}

impl StateDir {
    /// Use `root` as the state folder, creating it (mode 0700) when missing.
    pub fn open(root: &Path) -> anyhow::Result<Self> {
        let state = Self {
            root: root.to_path_buf(),
        };
        for dir in [state.root.clone(), state.runs_dir(), state.logs_dir()] {
            fsutil::create_private_dir(&dir)
                .with_context(|| format!("cannot create the state folder `{}`", dir.display()))
                .hint(
                    "pass `--state-dir DIR` (or set WWCTL_STATE_DIR) with a folder you can write",
                )?;
        }
        Ok(state)
    }

    /// Refer to `root` without creating anything, for read-only commands.
    pub fn at(root: &Path) -> Self {
        Self {
            root: root.to_path_buf(),
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn runs_dir(&self) -> PathBuf {
        self.root.join("runs")
    }

    pub fn logs_dir(&self) -> PathBuf {
        self.root.join("logs")
    }

    pub fn log_file(&self) -> PathBuf {
        self.logs_dir().join("wwctl.log")
    }

    pub fn lock_path(&self) -> PathBuf {
        self.root.join("lock")
    }

    pub fn known_hosts(&self) -> PathBuf {
        self.root.join("known_hosts")
    }

    pub fn resources_path(&self) -> PathBuf {
        self.root.join("resources.json")
    }
}
