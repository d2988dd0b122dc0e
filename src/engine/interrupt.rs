//! Ctrl-C and SIGTERM. The first one stops the run at the next step
//! boundary. A second Ctrl-C exits at once and leaves the current step
//! marked running, so the next run repeats it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::error::ExitCode;

#[derive(Clone, Debug, Default)]
pub struct Interrupt {
    requested: Arc<AtomicBool>,
}

impl Interrupt {
    /// Checks whether a stop was requested.
    pub fn requested(&self) -> bool {
        self.requested.load(Ordering::SeqCst)
    }

    pub fn request(&self) {
        self.requested.store(true, Ordering::SeqCst);
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
                    std::process::exit(i32::from(ExitCode::Interrupted.code()));
                }
                flag.request();
                eprintln!("stopping after the current step (press Ctrl-C again to stop at once)");
            }
        });
    }
}
