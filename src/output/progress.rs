//! Step progress on stderr: a spinner on a terminal, plain lines otherwise.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

#[derive(Clone, Debug)]
pub struct Progress {
    bar: Option<ProgressBar>,
    quiet: bool,
    /// The last plain-text message and when it was printed, so repeats and
    /// rapid updates do not flood a log.
    last_message: std::sync::Arc<std::sync::Mutex<(String, Option<std::time::Instant>)>>,
}

/// Shortest time between two plain-text progress messages.
const MESSAGE_INTERVAL: Duration = Duration::from_millis(500);

impl Progress {
    /// Creates a spinner when stderr is a terminal, plain lines when it is
    /// not, and nothing at all when `quiet`.
    pub fn new(quiet: bool) -> Self {
        let bar = (!quiet && std::io::stderr().is_terminal()).then(|| {
            let bar = ProgressBar::new_spinner();
            bar.set_style(
                ProgressStyle::with_template("{spinner} {prefix} {msg} {elapsed:.dim}")
                    .expect("valid template"),
            );
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        Self {
            bar,
            quiet,
            last_message: Default::default(),
        }
    }

    /// Progress that prints nothing, for dry runs and tests.
    pub fn hidden() -> Self {
        Self {
            bar: None,
            quiet: true,
            last_message: Default::default(),
        }
    }

    pub fn step_started(&self, index: usize, total: usize, id: &str, title: &str) {
        let prefix = format!("[{index}/{total}] {id}");
        match &self.bar {
            Some(bar) => {
                bar.set_prefix(prefix);
                bar.set_message(title.to_string());
                bar.reset_elapsed();
            }
            None => self.line(&format!("{prefix}: {title}")),
        }
    }

    /// Shows a note about the current step, such as bytes copied so far. On
    /// a terminal it replaces the spinner's message, otherwise it is a line.
    pub fn message(&self, text: &str) {
        match &self.bar {
            Some(bar) => bar.set_message(text.to_string()),
            None => {
                let mut last = self.last_message.lock().expect("progress lock");
                let recent = last.1.is_some_and(|at| at.elapsed() < MESSAGE_INTERVAL);
                if last.0 != text && !recent {
                    self.line(&format!("    {text}"));
                    *last = (text.to_string(), Some(std::time::Instant::now()));
                }
            }
        }
    }

    pub fn step_finished(
        &self,
        index: usize,
        total: usize,
        id: &str,
        outcome: &str,
        elapsed: Duration,
    ) {
        self.println(&format!(
            "[{index}/{total}] {id}: {outcome} ({:.1}s)",
            elapsed.as_secs_f64()
        ));
    }

    /// Print a line above the spinner.
    pub fn println(&self, text: &str) {
        match &self.bar {
            Some(bar) => bar.println(text),
            None => self.line(text),
        }
    }

    /// Run `f` with the spinner hidden, for prompts and log lines.
    pub fn suspend<R>(&self, f: impl FnOnce() -> R) -> R {
        match &self.bar {
            Some(bar) => bar.suspend(f),
            None => f(),
        }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }

    fn line(&self, text: &str) {
        if !self.quiet {
            let _ = writeln!(std::io::stderr().lock(), "{text}");
        }
    }
}
