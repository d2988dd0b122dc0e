//! The journal: one JSON file per run, rewritten atomically on every state
//! change, so a killed run can be resumed at its first unfinished step.
//!
//! The format is versioned (`format`); a journal from a newer wwctl is
//! reported instead of misread.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::Context;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::error::HintExt;
use crate::fsutil;
use crate::playbook::Params;

pub const FORMAT: &str = "wwctl.journal/v1";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    Running,
    Done,
    Failed,
    Interrupted,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StepState {
    Pending,
    Running,
    Done,
    Failed,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Journal {
    pub format: String,
    pub run_id: String,
    /// Identifies "the same command": a run with this key that did not
    /// finish is resumed instead of starting a new one.
    pub key: String,
    pub command: String,
    pub playbook: String,
    pub playbook_digest: String,
    pub params: Params,
    pub status: RunStatus,
    pub started_at: Timestamp,
    pub updated_at: Timestamp,
    pub finished_at: Option<Timestamp>,
    pub steps: Vec<StepRecord>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StepRecord {
    pub id: String,
    pub kind: String,
    pub title: String,
    pub state: StepState,
    /// How many times the step started; more than one after a resume.
    pub attempts: u32,
    pub started_at: Option<Timestamp>,
    pub finished_at: Option<Timestamp>,
    /// Values the step produced, such as created droplet ids. Never secrets.
    pub outputs: serde_json::Map<String, serde_json::Value>,
    pub error: Option<String>,
}

impl Journal {
    pub fn is_finished(&self) -> bool {
        self.status == RunStatus::Done
    }

    pub fn step(&self, id: &str) -> Option<&StepRecord> {
        self.steps.iter().find(|step| step.id == id)
    }

    pub fn step_mut(&mut self, id: &str) -> Option<&mut StepRecord> {
        self.steps.iter_mut().find(|step| step.id == id)
    }

    /// Returns the first step that is not done, where a resumed run starts.
    pub fn first_unfinished(&self) -> Option<&StepRecord> {
        self.steps.iter().find(|step| step.state != StepState::Done)
    }
}

/// The journals in a state folder.
#[derive(Clone, Debug)]
pub struct JournalStore {
    dir: PathBuf,
}

impl JournalStore {
    pub fn new(dir: PathBuf) -> Self {
        Self { dir }
    }

    pub fn path_of(&self, run_id: &str) -> PathBuf {
        self.dir.join(format!("{run_id}.json"))
    }

    pub fn load(&self, run_id: &str) -> anyhow::Result<Journal> {
        read_journal(&self.path_of(run_id))
    }

    /// Lists every journal, oldest first. A journal that cannot be read is an
    /// error, because skipping it could start a second run beside it.
    pub fn list(&self) -> anyhow::Result<Vec<Journal>> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(error) => {
                return Err(error).with_context(|| format!("cannot read `{}`", self.dir.display()));
            }
        };

        let mut journals = Vec::new();
        for entry in entries {
            let path = entry?.path();
            let is_journal = path.extension().is_some_and(|ext| ext == "json")
                && !path
                    .file_name()
                    .is_some_and(|name| name.to_string_lossy().starts_with('.'));
            if is_journal {
                journals.push(read_journal(&path)?);
            }
        }
        journals.sort_by(|a, b| {
            a.started_at
                .cmp(&b.started_at)
                .then(a.run_id.cmp(&b.run_id))
        });
        Ok(journals)
    }

    /// Finds the newest run with `key` that did not finish.
    pub fn find_unfinished(&self, key: &str) -> anyhow::Result<Option<Journal>> {
        Ok(self
            .list()?
            .into_iter()
            .rev()
            .find(|journal| journal.key == key && !journal.is_finished()))
    }

    /// Finds the newest run with `key`, finished or not.
    pub fn find_latest(&self, key: &str) -> anyhow::Result<Option<Journal>> {
        Ok(self
            .list()?
            .into_iter()
            .rev()
            .find(|journal| journal.key == key))
    }
}

fn read_journal(path: &Path) -> anyhow::Result<Journal> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read journal `{}`", path.display()))?;
    let value: serde_json::Value = serde_json::from_str(&text)
        .with_context(|| format!("journal `{}` is not valid JSON", path.display()))
        .hint("the journal is written atomically, so this file was changed by hand; restore it or move it away")?;

    let format = value
        .get("format")
        .and_then(|format| format.as_str())
        .unwrap_or_default();
    if format != FORMAT {
        return Err(anyhow::anyhow!(
            "journal `{}` has format `{format}`, and this wwctl reads `{FORMAT}`",
            path.display()
        ))
        .hint("use the wwctl version that wrote this journal, or move the file away");
    }
    serde_json::from_value(value).with_context(|| {
        format!(
            "journal `{}` does not match format `{FORMAT}`",
            path.display()
        )
    })
}

/// The journal of the run in progress, shared by the steps that record
/// into it. Every change is written to disk before `update` returns.
#[derive(Clone, Debug)]
pub struct JournalWriter {
    inner: Arc<Mutex<Journal>>,
    path: PathBuf,
}

impl JournalWriter {
    /// Start writing `journal` to `path`, writing it once right away.
    pub fn create(path: PathBuf, journal: Journal) -> anyhow::Result<Self> {
        let writer = Self {
            inner: Arc::new(Mutex::new(journal)),
            path,
        };
        writer.update(|_| {})?;
        Ok(writer)
    }

    /// Apply `change` and write the journal atomically.
    pub fn update<R>(&self, change: impl FnOnce(&mut Journal) -> R) -> anyhow::Result<R> {
        let mut journal = self.inner.lock().expect("journal lock");
        let result = change(&mut journal);
        journal.updated_at = Timestamp::now();
        let bytes = serde_json::to_vec_pretty(&*journal)?;
        fsutil::write_atomic(&self.path, &bytes, 0o600)
            .with_context(|| format!("cannot write journal `{}`", self.path.display()))?;
        Ok(result)
    }

    pub fn snapshot(&self) -> Journal {
        self.inner.lock().expect("journal lock").clone()
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}
