//! Ctrl-C and SIGTERM. The first one stops the run at the next step
//! boundary. A second one exits at once: the journal marks the run
//! interrupted, the step that was running stays marked running so the next
//! run repeats it, and the lock is released.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use crate::engine::journal::{JournalWriter, RunStatus, StepState};
use crate::engine::lock::{self, LockHolder};
use crate::error::ExitCode;

#[derive(Clone, Debug, Default)]
pub struct Interrupt {
    requested: Arc<AtomicBool>,
    forced_stop: Arc<Mutex<ForcedStop>>,
}

/// The journal and lock that a forced stop updates before the process exits.
#[derive(Debug, Default)]
struct ForcedStop {
    journal: Option<JournalWriter>,
    lock: Option<(PathBuf, LockHolder)>,
}

impl Interrupt {
    /// Checks whether a stop was requested.
    pub fn requested(&self) -> bool {
        self.requested.load(Ordering::SeqCst)
    }

    pub fn request(&self) {
        self.requested.store(true, Ordering::SeqCst);
    }

    /// Release the lock at `path`, held by `holder`, if the run is stopped at once.
    pub fn release_on_forced_stop(&self, path: PathBuf, holder: LockHolder) {
        if let Ok(mut forced_stop) = self.forced_stop.lock() {
            forced_stop.lock = Some((path, holder));
        }
    }

    /// Mark the run of `journal` interrupted if the run is stopped at once.
    pub fn record_on_forced_stop(&self, journal: JournalWriter) {
        if let Ok(mut forced_stop) = self.forced_stop.lock() {
            forced_stop.journal = Some(journal);
        }
    }

    /// Mark the running run interrupted in its journal, then release the
    /// lock. The journal comes first, so no other run finds a free lock next
    /// to a run still marked running. A failed journal write is logged and
    /// skipped, because the process exits right after.
    pub fn stop_at_once(&self) {
        let Ok(forced_stop) = self.forced_stop.lock() else {
            return;
        };
        if let Some(journal) = &forced_stop.journal
            && journal.snapshot().status == RunStatus::Running
        {
            let marked = journal.update(|run| {
                run.status = RunStatus::Interrupted;
                for step in &mut run.steps {
                    if step.state == StepState::Running {
                        step.error = Some(
                            "stopped at once by a second interrupt; it runs again on resume"
                                .to_string(),
                        );
                    }
                }
            });
            if let Err(error) = marked {
                tracing::error!(error = %format!("{error:#}"), "cannot mark the run interrupted in its journal");
            }
        }
        if let Some((path, holder)) = &forced_stop.lock {
            lock::release(path, holder);
        }
    }

    /// Listen for SIGINT and SIGTERM on the current tokio runtime.
    pub fn listen(&self) {
        let flag = self.clone();
        tokio::spawn(async move {
            let Ok(mut terminate) =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            else {
                return;
            };
            loop {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = terminate.recv() => {}
                }
                if flag.requested() {
                    eprintln!(
                        "stopping now; the interrupted step runs again when you re-run the command"
                    );
                    // A panic here would skip the exit below and leave the
                    // run going, so it is caught.
                    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        flag.stop_at_once();
                    }));
                    std::process::exit(i32::from(ExitCode::Interrupted.code()));
                }
                flag.request();
                eprintln!("stopping after the current step (press Ctrl-C again to stop at once)");
            }
        });
    }
}
