//! Logging with `tracing`: to stderr at the level `-v`/`-q` ask for, and to
//! the state folder's log file at debug level or finer.

use std::ffi::OsStr;
use std::fs::OpenOptions;
use std::io::{IsTerminal, Write};
use std::path::Path;
use std::sync::Mutex;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::output::progress::Progress;

/// The variable that overrides the stderr log filter, in `tracing` syntax.
pub const LOG_ENV: &str = "WWCTL_LOG";

/// Start logging. `verbose` counts `-v` flags; `log_file` is appended to
/// when given. Calling it twice keeps the first setup.
pub fn init(verbose: u8, quiet: bool, log_file: Option<&Path>, progress: &Progress) {
    let stderr_level = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "debug",
        (false, _) => "trace",
    };
    let stderr_filter = EnvFilter::try_from_env(LOG_ENV)
        .unwrap_or_else(|_| EnvFilter::new(format!("warn,wwctl={stderr_level}")));
    let stderr_layer = tracing_subscriber::fmt::layer()
        .with_writer(SuspendingStderr {
            progress: progress.clone(),
        })
        .with_target(false)
        .without_time()
        .with_ansi(use_colour(
            std::io::stderr().is_terminal(),
            std::env::var_os("NO_COLOR").as_deref(),
        ))
        .with_filter_boxed(stderr_filter);

    let file_layer = log_file.and_then(|path| {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .ok()?;
        let level = if verbose >= 2 { "trace" } else { "debug" };
        Some(
            tracing_subscriber::fmt::layer()
                .with_writer(Mutex::new(file))
                .with_ansi(false)
                .with_filter_boxed(EnvFilter::new(format!("info,wwctl={level}"))),
        )
    });

    let _ = tracing_subscriber::registry()
        .with(stderr_layer)
        .with(file_layer)
        .try_init();
}

/// Decides whether stderr log lines get colour: only on a terminal, and not
/// when NO_COLOR is set to a non-empty value (see no-color.org).
fn use_colour(stderr_is_terminal: bool, no_color: Option<&OsStr>) -> bool {
    let colour_disabled = no_color.is_some_and(|value| !value.is_empty());
    stderr_is_terminal && !colour_disabled
}

/// Boxing keeps the two layers' filter types apart.
trait BoxedFilter<S>: Sized {
    fn with_filter_boxed(
        self,
        filter: EnvFilter,
    ) -> tracing_subscriber::filter::Filtered<Self, EnvFilter, S>;
}

impl<S, L> BoxedFilter<S> for L
where
    L: tracing_subscriber::Layer<S>,
    S: tracing::Subscriber,
{
    fn with_filter_boxed(
        self,
        filter: EnvFilter,
    ) -> tracing_subscriber::filter::Filtered<Self, EnvFilter, S> {
        tracing_subscriber::Layer::with_filter(self, filter)
    }
}

/// Writes log lines to stderr with the progress spinner hidden.
struct SuspendingStderr {
    progress: Progress,
}

impl<'a> MakeWriter<'a> for SuspendingStderr {
    type Writer = SuspendedLine;

    fn make_writer(&'a self) -> Self::Writer {
        SuspendedLine {
            progress: self.progress.clone(),
            buffer: Vec::new(),
        }
    }
}

/// One log event, printed as a whole when dropped.
struct SuspendedLine {
    progress: Progress,
    buffer: Vec<u8>,
}

impl Write for SuspendedLine {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.buffer.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for SuspendedLine {
    fn drop(&mut self) {
        let buffer = std::mem::take(&mut self.buffer);
        self.progress.suspend(|| {
            let _ = std::io::stderr().lock().write_all(&buffer);
        });
    }
}

#[cfg(test)]
mod tests {
    use std::ffi::OsStr;

    use super::use_colour;

    #[test]
    fn colour_only_on_terminal() {
        assert!(use_colour(true, None));
        assert!(!use_colour(false, None));
    }

    #[test]
    fn colour_off_with_no_color() {
        assert!(!use_colour(true, Some(OsStr::new("1"))));
        assert!(
            use_colour(true, Some(OsStr::new(""))),
            "an empty NO_COLOR leaves colour on"
        );
    }
}
