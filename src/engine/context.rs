//! The view of a run a step gets while it plans or runs.

use std::sync::Arc;

use crate::cli::GlobalArgs;
use crate::clock::Clock;
use crate::engine::interrupt::Interrupt;
use crate::engine::journal::JournalWriter;
use crate::inventory::Inventory;
use crate::output::Printer;
use crate::output::progress::Progress;
use crate::playbook::{Params, Step};
use crate::state::StateDir;

/// Command options that steps read besides their parameters.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// `--yes`: skip confirmation prompts.
    pub yes: bool,
    /// `--force`: skip the waits a safety rule allows skipping.
    pub force: bool,
    /// `--no-snapshot`: skip the final database snapshot on teardown.
    pub no_snapshot: bool,
}

/// Everything a command's steps share: inventory, state folder, output,
/// clock. Connections to the cloud and to servers are opened on first use.
#[derive(Debug)]
pub struct Services {
    pub global: GlobalArgs,
    pub inventory: Inventory,
    pub state: StateDir,
    pub printer: Printer,
    pub progress: Progress,
    pub clock: Arc<dyn Clock>,
    pub interrupt: Interrupt,
    pub options: RunOptions,
    /// Connections and stores opened on first use.
    pub lazy: crate::engine::services::Lazy,
}

/// One step's view of a run.
pub struct StepContext<'a> {
    pub services: &'a Services,
    pub step: &'a Step,
    pub run_id: &'a str,
    pub params: &'a Params,
    /// The run's journal; `None` during a dry run, which writes nothing.
    pub journal: Option<&'a JournalWriter>,
}

impl StepContext<'_> {
    pub fn inventory(&self) -> &Inventory {
        &self.services.inventory
    }

    pub fn is_dry_run(&self) -> bool {
        self.journal.is_none()
    }

    /// Record a value this step produced (a droplet id, a commit) in the
    /// journal right away, so a resumed run finds it. Never pass a secret.
    pub fn record_output(&self, key: &str, value: serde_json::Value) -> anyhow::Result<()> {
        let Some(journal) = self.journal else {
            return Ok(());
        };
        let step_id = self.step.id.clone();
        journal.update(|run| {
            if let Some(step) = run.step_mut(&step_id) {
                step.outputs.insert(key.to_string(), value);
            }
        })
    }

    /// Returns a value this step recorded in an earlier attempt of the same run.
    pub fn own_output(&self, key: &str) -> Option<serde_json::Value> {
        self.output_of(&self.step.id, key)
    }

    /// Returns a value the first step of kind `kind` in this run recorded.
    pub fn output_of_kind(&self, kind: &str, key: &str) -> Option<serde_json::Value> {
        let journal = self.journal?.snapshot();
        let step = journal.steps.iter().find(|step| step.kind == kind)?;
        step.outputs.get(key).cloned()
    }

    /// Returns a value an earlier step of this run recorded.
    pub fn output_of(&self, step_id: &str, key: &str) -> Option<serde_json::Value> {
        let journal = self.journal?.snapshot();
        journal.step(step_id)?.outputs.get(key).cloned()
    }
}
