//! Running a playbook's steps in order, journaled and resumable, and
//! planning them without side effects.

use std::time::Instant;

use anyhow::Context;
use jiff::Timestamp;

use crate::engine::Interrupted;
use crate::engine::context::{Services, StepContext};
use crate::engine::journal::{
    FORMAT, Journal, JournalStore, JournalWriter, RunStatus, StepRecord, StepState,
};
use crate::engine::lock::{self, LockHolder};
use crate::engine::plan::{Plan, PlannedStep, SCHEMA};
use crate::error::HintExt;
use crate::playbook::{Params, Playbook, Step};

/// A command's playbook, ready to plan or run.
#[derive(Clone, Debug)]
pub struct RunRequest {
    /// The command line as the user would type it, for the journal and the lock.
    pub command: String,
    pub playbook: Playbook,
    pub params: Params,
    pub steps: Vec<Step>,
}

impl RunRequest {
    /// Runs with the same key are "the same command": an unfinished one is
    /// resumed instead of starting over.
    pub fn key(&self) -> String {
        let params: Vec<String> = self
            .params
            .iter()
            .map(|(name, value)| format!("{name}={}", value.as_deref().unwrap_or("")))
            .collect();
        format!("{} {}", self.playbook.name, params.join(" "))
            .trim_end()
            .to_string()
    }
}

/// Run the steps: resume the unfinished run with the same key, or start a
/// new one. Returns the finished journal.
pub async fn apply(services: &Services, request: &RunRequest) -> anyhow::Result<Journal> {
    let lock_holder = LockHolder::current(&request.command, None);
    let run_lock = match lock::acquire(&services.state.lock_path(), lock_holder) {
        Ok(lock) => lock,
        Err(error) => {
            let hint = error.hint();
            let result: anyhow::Result<_> = Err(error.into());
            return match hint {
                Some(hint) => result.hint(hint),
                None => result,
            };
        }
    };

    services
        .interrupt
        .release_on_forced_stop(run_lock.path().to_path_buf(), run_lock.holder().clone());

    let store = JournalStore::new(services.state.runs_dir());
    let journal = match store.find_unfinished(&request.key())? {
        Some(previous) => resume(services, request, previous),
        None => new_journal(services, request),
    };
    let writer = JournalWriter::create(store.path_of(&journal.run_id), journal)?;
    writer.update(|run| run.status = RunStatus::Running)?;
    services.interrupt.record_on_forced_stop(writer.clone());

    let total = request.steps.len();
    for (index, step) in request.steps.iter().enumerate() {
        run_step(services, request, &writer, step, index + 1, total).await?;
    }

    writer.update(|run| {
        run.status = RunStatus::Done;
        run.finished_at = Some(Timestamp::now());
    })?;
    services.progress.finish();
    Ok(writer.snapshot())
}

async fn run_step(
    services: &Services,
    request: &RunRequest,
    writer: &JournalWriter,
    step: &Step,
    index: usize,
    total: usize,
) -> anyhow::Result<()> {
    let record = writer.snapshot().step(&step.id).cloned();
    if record
        .as_ref()
        .is_some_and(|record| record.state == StepState::Done)
    {
        services
            .progress
            .println(&format!("[{index}/{total}] {}: done earlier", step.id));
        return Ok(());
    }

    if services.interrupt.requested() {
        writer.update(|run| run.status = RunStatus::Interrupted)?;
        let run_id = writer.snapshot().run_id;
        services.progress.finish();
        return Err(Interrupted { run_id }.into());
    }

    writer.update(|run| {
        if let Some(record) = run.step_mut(&step.id) {
            record.state = StepState::Running;
            record.attempts += 1;
            record.started_at = Some(Timestamp::now());
            record.error = None;
        }
    })?;
    services
        .progress
        .step_started(index, total, &step.id, &step.title);
    tracing::info!(step = %step.id, kind = %step.kind, "step started");

    let run_id = writer.snapshot().run_id;
    let ctx = StepContext {
        services,
        step,
        run_id: &run_id,
        params: &request.params,
        journal: Some(writer),
    };
    let started = Instant::now();
    let result = step.action.apply(&ctx).await;
    let elapsed = started.elapsed();

    match result {
        Ok(()) => {
            writer.update(|run| {
                if let Some(record) = run.step_mut(&step.id) {
                    record.state = StepState::Done;
                    record.finished_at = Some(Timestamp::now());
                }
            })?;
            tracing::info!(step = %step.id, seconds = elapsed.as_secs_f64(), "step done");
            services
                .progress
                .step_finished(index, total, &step.id, "done", elapsed);
            Ok(())
        }
        Err(error) => {
            let text = format!("{error:#}");
            writer.update(|run| {
                run.status = RunStatus::Failed;
                if let Some(record) = run.step_mut(&step.id) {
                    record.state = StepState::Failed;
                    record.finished_at = Some(Timestamp::now());
                    record.error = Some(text.clone());
                }
            })?;
            tracing::error!(step = %step.id, error = %text, "step failed");
            services
                .progress
                .step_finished(index, total, &step.id, "failed", elapsed);
            services.progress.finish();
            Err(error)
                .with_context(|| format!("step `{}` ({}) failed", step.id, step.title))
                .hint(format!(
                    "fix the cause, then run `{}` again: it resumes at this step",
                    request.command
                ))
        }
    }
}

fn new_journal(services: &Services, request: &RunRequest) -> Journal {
    let now = services.clock.now();
    Journal {
        format: FORMAT.to_string(),
        run_id: new_run_id(&request.playbook.name, now),
        key: request.key(),
        command: request.command.clone(),
        playbook: request.playbook.name.clone(),
        playbook_digest: request.playbook.digest.clone(),
        params: request.params.clone(),
        status: RunStatus::Running,
        started_at: now,
        updated_at: now,
        finished_at: None,
        steps: request.steps.iter().map(pending_record).collect(),
    }
}

/// Continue `previous`, matching its steps to the playbook's by id.
fn resume(services: &Services, request: &RunRequest, previous: Journal) -> Journal {
    if previous.playbook_digest != request.playbook.digest {
        tracing::warn!(run = %previous.run_id, "the playbook changed since this run started; its steps are matched by id");
    }
    let resumed_at = previous
        .first_unfinished()
        .map(|step| step.id.clone())
        .unwrap_or_default();
    services.progress.println(&format!(
        "resuming run {} at step `{resumed_at}`",
        previous.run_id
    ));

    let steps = request
        .steps
        .iter()
        .map(|step| {
            previous
                .step(&step.id)
                .cloned()
                .unwrap_or_else(|| pending_record(step))
        })
        .collect();
    Journal {
        steps,
        playbook_digest: request.playbook.digest.clone(),
        ..previous
    }
}

fn pending_record(step: &Step) -> StepRecord {
    StepRecord {
        id: step.id.clone(),
        kind: step.kind.clone(),
        title: step.title.clone(),
        state: StepState::Pending,
        attempts: 0,
        started_at: None,
        finished_at: None,
        outputs: serde_json::Map::new(),
        error: None,
    }
}

/// Makes a run id that sorts by time and fits a DigitalOcean tag:
/// `20261204t201500z-migrate-1a2b3c`.
fn new_run_id(playbook: &str, now: Timestamp) -> String {
    let time = now.strftime("%Y%m%dt%H%M%Sz").to_string();
    format!(
        "{time}-{playbook}-{:06x}",
        rand::random::<u32>() & 0xff_ffff
    )
}

/// Plan the steps without side effects: no lock, no journal, no writes.
pub async fn plan(
    services: &Services,
    request: &RunRequest,
    offline: bool,
) -> anyhow::Result<Plan> {
    let store = JournalStore::new(services.state.runs_dir());
    let unfinished = store.find_unfinished(&request.key())?;
    let run_id = unfinished
        .as_ref()
        .map_or_else(|| "dry-run".to_string(), |run| run.run_id.clone());

    let mut steps = Vec::new();
    for step in &request.steps {
        let state = unfinished
            .as_ref()
            .and_then(|run| run.step(&step.id))
            .map_or(StepState::Pending, |record| record.state);
        let ctx = StepContext {
            services,
            step,
            run_id: &run_id,
            params: &request.params,
            journal: None,
        };
        let step_plan = if offline {
            step.action.plan_offline(&ctx)?
        } else {
            step.action
                .plan(&ctx)
                .await
                .with_context(|| format!("cannot plan step `{}`", step.id))?
        };
        steps.push(PlannedStep {
            id: step.id.clone(),
            kind: step.kind.clone(),
            title: step.title.clone(),
            needs: step.needs.clone(),
            targets: step.targets.clone(),
            state,
            changes: step_plan.changes,
            notes: step_plan.notes,
        });
    }

    let mut plan = Plan {
        schema: SCHEMA,
        command: request.command.clone(),
        playbook: request.playbook.name.clone(),
        params: request.params.clone(),
        offline,
        resumes_run: unfinished.map(|run| run.run_id),
        steps,
        summary: Default::default(),
    };
    plan.summarize();
    Ok(plan)
}
