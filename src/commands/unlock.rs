//! `wwctl unlock`: remove the lock of a run that no longer runs.

use crate::cli::{GlobalArgs, UnlockArgs};
use crate::engine::lock::{self, Liveness};
use crate::error::{ExitCode, UserError};
use crate::output::Printer;
use crate::state::StateDir;

pub fn run(global: &GlobalArgs, args: &UnlockArgs) -> anyhow::Result<ExitCode> {
    let state = StateDir::at(&global.state_dir());
    let path = state.lock_path();
    let printer = Printer::new(global.output, global.quiet);

    let holder = match lock::read_holder(&path) {
        Ok(Some(holder)) => holder,
        Ok(None) => {
            printer.text("no lock to remove")?;
            return Ok(ExitCode::Success);
        }
        Err(error) if args.force => {
            std::fs::remove_file(&path)?;
            printer.text(&format!("removed an unreadable lock ({error})"))?;
            return Ok(ExitCode::Success);
        }
        Err(error) => return Err(error.into()),
    };

    match (lock::liveness(&holder), args.force) {
        (Liveness::Alive, _) => Err(UserError::new(ExitCode::Locked, format!("the lock's holder still runs: {}", holder.describe()))
            .with_hint(format!("stop it first (Ctrl-C, or `kill {}`); its run resumes when you re-run its command", holder.pid))
            .into()),
        (Liveness::Unknown, false) => Err(UserError::new(
            ExitCode::Locked,
            format!("the lock was taken on another host, so wwctl cannot tell whether its holder still runs: {}", holder.describe()),
        )
        .with_hint("check that host; if the run is gone there, remove the lock with `wwctl unlock --force`")
        .into()),
        (Liveness::Gone | Liveness::Unknown, _) => {
            std::fs::remove_file(&path)?;
            printer.text(&format!("removed the lock held by {}", holder.describe()))?;
            Ok(ExitCode::Success)
        }
    }
}
