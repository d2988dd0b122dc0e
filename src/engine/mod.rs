//! Runs, their journal and lock, and the steps they execute.

use crate::error::{ExitCode, HasExitCode};

#[derive(Debug, thiserror::Error)]
#[error("another run holds the lock")]
pub struct LockHeld;

impl HasExitCode for LockHeld {
    fn exit_code(&self) -> ExitCode {
        ExitCode::Locked
    }
}

#[derive(Debug, thiserror::Error)]
#[error("interrupted")]
pub struct Interrupted;

impl HasExitCode for Interrupted {
    fn exit_code(&self) -> ExitCode {
        ExitCode::Interrupted
    }
}
