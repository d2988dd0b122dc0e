//! Dry-run plans: what each step would change, in a documented JSON schema
//! (`wwctl.plan/v1`) and as text.

use std::fmt::Write;

use serde::Serialize;

use crate::engine::journal::StepState;
use crate::playbook::Params;

pub const SCHEMA: &str = "wwctl.plan/v1";

/// The marker for values a dry run cannot know, such as a new droplet's address.
pub const KNOWN_AFTER_APPLY: &str = "(known after apply)";

#[derive(Clone, Debug, Serialize)]
pub struct Plan {
    pub schema: &'static str,
    pub command: String,
    pub playbook: String,
    pub params: Params,
    /// True when planned from the inventory alone, without API or SSH.
    pub offline: bool,
    /// The unfinished run this plan would resume, if any.
    pub resumes_run: Option<String>,
    pub steps: Vec<PlannedStep>,
    pub summary: PlanSummary,
}

#[derive(Clone, Debug, Serialize)]
pub struct PlannedStep {
    pub id: String,
    pub kind: String,
    pub title: String,
    pub needs: Vec<String>,
    pub targets: Vec<String>,
    /// The step's state in the run being resumed; `pending` otherwise.
    pub state: StepState,
    pub changes: Vec<Change>,
    pub notes: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct PlanSummary {
    pub steps: usize,
    pub steps_with_changes: usize,
    pub changes: usize,
}

/// The changes one step would make.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct StepPlan {
    pub changes: Vec<Change>,
    pub notes: Vec<String>,
}

impl StepPlan {
    pub fn with_changes(changes: Vec<Change>) -> Self {
        Self {
            changes,
            notes: Vec::new(),
        }
    }

    pub fn note(mut self, note: impl Into<String>) -> Self {
        self.notes.push(note.into());
        self
    }

    pub fn has_changes(&self) -> bool {
        self.changes.iter().any(Change::is_change)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeAction {
    Create,
    Update,
    Delete,
    /// A command or action that changes something not modelled as a resource.
    Run,
    /// A wait the step must make, such as a DNS TTL.
    Wait,
    /// A read-only check; not a change.
    Check,
    /// Already as it should be.
    NoChange,
}

impl ChangeAction {
    fn symbol(self) -> &'static str {
        match self {
            ChangeAction::Create => "+",
            ChangeAction::Update => "~",
            ChangeAction::Delete => "-",
            ChangeAction::Run => ">",
            ChangeAction::Wait => "…",
            ChangeAction::Check => "?",
            ChangeAction::NoChange => "=",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Change {
    /// The droplet, record or file the change applies to.
    pub target: Option<String>,
    pub action: ChangeAction,
    pub summary: String,
    /// Attribute changes (`ttl: 3600 -> 60`) or diff lines.
    pub details: Vec<String>,
    /// Attributes whose values are known only after apply.
    pub known_after_apply: Vec<String>,
}

impl Change {
    pub fn new(action: ChangeAction, target: Option<String>, summary: impl Into<String>) -> Self {
        Self {
            target,
            action,
            summary: summary.into(),
            details: Vec::new(),
            known_after_apply: Vec::new(),
        }
    }

    pub fn run(target: Option<String>, summary: impl Into<String>) -> Self {
        Self::new(ChangeAction::Run, target, summary)
    }

    pub fn no_change(target: Option<String>, summary: impl Into<String>) -> Self {
        Self::new(ChangeAction::NoChange, target, summary)
    }

    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.details.push(detail.into());
        self
    }

    pub fn unknown(mut self, attribute: impl Into<String>) -> Self {
        self.known_after_apply.push(attribute.into());
        self
    }

    /// Checks whether the change counts towards "changes pending".
    pub fn is_change(&self) -> bool {
        !matches!(self.action, ChangeAction::Check | ChangeAction::NoChange)
    }
}

impl Plan {
    pub fn summarize(&mut self) {
        self.summary = PlanSummary {
            steps: self.steps.len(),
            steps_with_changes: self
                .steps
                .iter()
                .filter(|step| step.changes.iter().any(Change::is_change))
                .count(),
            changes: self
                .steps
                .iter()
                .flat_map(|step| &step.changes)
                .filter(|c| c.is_change())
                .count(),
        };
    }

    pub fn has_changes(&self) -> bool {
        self.summary.changes > 0
    }

    /// Renders the plan as text, one block per step.
    pub fn render_text(&self) -> String {
        let mut out = String::new();
        let mode = if self.offline {
            " (offline: planned from the inventory alone)"
        } else {
            ""
        };
        let _ = writeln!(out, "Plan for `{}`{mode}", self.command);
        if let Some(run) = &self.resumes_run {
            let _ = writeln!(
                out,
                "Resumes unfinished run {run}; steps marked done are skipped."
            );
        }

        for (index, step) in self.steps.iter().enumerate() {
            let state = match step.state {
                StepState::Done => " [done]",
                StepState::Running => " [interrupted]",
                StepState::Failed => " [failed]",
                StepState::Pending => "",
            };
            let _ = writeln!(
                out,
                "\n{:>2}. {} ({}){state}: {}",
                index + 1,
                step.id,
                step.kind,
                step.title
            );
            if step.changes.is_empty() {
                let _ = writeln!(out, "      = no change");
            }
            for change in &step.changes {
                render_change(&mut out, change);
            }
            for note in &step.notes {
                let _ = writeln!(out, "      note: {note}");
            }
        }

        let _ = writeln!(
            out,
            "\nPlan: {} change{} in {} of {} steps.",
            self.summary.changes,
            if self.summary.changes == 1 { "" } else { "s" },
            self.summary.steps_with_changes,
            self.summary.steps
        );
        out
    }
}

fn render_change(out: &mut String, change: &Change) {
    let target = change
        .target
        .as_deref()
        .map(|target| format!("{target}: "))
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "      {} {target}{}",
        change.action.symbol(),
        change.summary
    );
    for detail in &change.details {
        let _ = writeln!(out, "          {detail}");
    }
    if !change.known_after_apply.is_empty() {
        let _ = writeln!(
            out,
            "          {}: {KNOWN_AFTER_APPLY}",
            change.known_after_apply.join(", ")
        );
    }
}
