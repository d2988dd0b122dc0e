//! Runs: their journal and lock, the steps they execute, and dry-run plans.

pub mod context;
pub mod interrupt;
pub mod journal;
pub mod lock;
pub mod plan;
pub mod runner;
pub mod services;

use crate::error::{ExitCode, HasExitCode};

/// The run stopped at a step boundary on request; re-running resumes it.
#[derive(Debug, thiserror::Error)]
#[error(
    "run {run_id} stopped before its next step as requested; run the same command again to resume it"
)]
pub struct Interrupted {
    pub run_id: String,
}

impl HasExitCode for Interrupted {
    fn exit_code(&self) -> ExitCode {
        ExitCode::Interrupted
    }
}
