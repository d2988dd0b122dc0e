//! `wwctl status`: runs, their step states, and the lock.

use std::fmt::Write;

use serde::Serialize;

use crate::cli::{GlobalArgs, StatusArgs};
use crate::engine::journal::{Journal, JournalStore, StepState};
use crate::engine::lock::{self, Liveness, LockHolder};
use crate::error::{ExitCode, UserError};
use crate::output::Printer;
use crate::state::StateDir;
use crate::suggest;

#[derive(Serialize)]
struct StatusReport<'a> {
    schema: &'static str,
    lock: Option<LockReport>,
    runs: Vec<&'a Journal>,
}

#[derive(Serialize)]
struct LockReport {
    holder: LockHolder,
    stale: bool,
}

pub fn run(global: &GlobalArgs, args: &StatusArgs) -> anyhow::Result<ExitCode> {
    let state = StateDir::at(&global.state_dir());
    let store = JournalStore::new(state.runs_dir());
    let journals = store.list()?;
    let selected: Vec<&Journal> = match &args.run {
        Some(run_id) => vec![find_run(&journals, run_id)?],
        None => journals.iter().collect(),
    };

    let lock = lock::read_holder(&state.lock_path())?.map(|holder| LockReport {
        stale: lock::liveness(&holder) == Liveness::Gone,
        holder,
    });

    let printer = Printer::new(global.output, global.quiet);
    if printer.is_json() {
        printer.json(&StatusReport {
            schema: "wwctl.status/v1",
            lock,
            runs: selected,
        })?;
    } else {
        printer.text(&render(lock.as_ref(), &selected, args.run.is_some()))?;
    }
    Ok(ExitCode::Success)
}

fn find_run<'a>(journals: &'a [Journal], run_id: &str) -> anyhow::Result<&'a Journal> {
    journals
        .iter()
        .find(|journal| journal.run_id == run_id)
        .ok_or_else(|| {
            let ids = journals.iter().map(|journal| journal.run_id.as_str());
            UserError::usage(format!("no run with id `{run_id}`"))
                .with_hint(suggest::hint_for(run_id, ids))
                .into()
        })
}

fn render(lock: Option<&LockReport>, runs: &[&Journal], detailed: bool) -> String {
    let mut out = String::new();
    match lock {
        Some(report) if report.stale => {
            let _ = writeln!(
                out,
                "lock: stale, held by {} which no longer runs",
                report.holder.describe()
            );
        }
        Some(report) => {
            let _ = writeln!(out, "lock: held by {}", report.holder.describe());
        }
        None => {
            let _ = writeln!(out, "lock: free");
        }
    }

    if runs.is_empty() {
        let _ = writeln!(out, "no runs yet");
    }
    for journal in runs {
        let done = journal
            .steps
            .iter()
            .filter(|step| step.state == StepState::Done)
            .count();
        let _ = writeln!(
            out,
            "\n{}  {:?}  {}/{} steps done  {}",
            journal.run_id,
            journal.status,
            done,
            journal.steps.len(),
            journal.command
        );
        let show_steps = detailed || !journal.is_finished();
        for step in journal.steps.iter().filter(|_| show_steps) {
            let attempts = if step.attempts > 1 {
                format!(" ({} attempts)", step.attempts)
            } else {
                String::new()
            };
            let _ = writeln!(
                out,
                "  {:<8} {}{attempts}",
                format!("{:?}", step.state).to_lowercase(),
                step.id
            );
            if let Some(error) = &step.error {
                let _ = writeln!(
                    out,
                    "           error: {}",
                    error.lines().next().unwrap_or_default()
                );
            }
        }
    }
    out
}
