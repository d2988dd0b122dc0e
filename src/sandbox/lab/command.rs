//! Running the machine's tools (`ip`, `cp`, `git`, `mariadb-install-db`) and
//! turning a failure into an error that shows the command and its output.

use std::ffi::OsStr;
use std::process::{Command, Output, Stdio};

/// A command that exited with a failure status.
#[derive(Debug, thiserror::Error)]
#[error("`{command}` failed ({status}): {stderr}")]
pub struct CommandFailed {
    pub command: String,
    pub status: String,
    pub stderr: String,
}

/// Format the command line of `command` as one string, for messages only.
pub fn display(command: &Command) -> String {
    let program = command.get_program().to_string_lossy().into_owned();
    let args = command.get_args().map(OsStr::to_string_lossy);
    std::iter::once(program.into())
        .chain(args)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Run `command` to completion and return its output, or an error naming
/// the command, its exit status and the end of its standard error.
pub fn run(command: &mut Command) -> anyhow::Result<Output> {
    command.stdin(Stdio::null());
    let shown = display(command);
    let output = command
        .output()
        .map_err(|error| anyhow::anyhow!("cannot run `{shown}`: {error}"))?;
    if !output.status.success() {
        return Err(CommandFailed {
            command: shown,
            status: output.status.to_string(),
            stderr: tail(&String::from_utf8_lossy(&output.stderr), 20),
        }
        .into());
    }
    Ok(output)
}

/// Run `program` with `args`, as `run` does.
pub fn run_args<S: AsRef<OsStr>>(program: &str, args: &[S]) -> anyhow::Result<Output> {
    run(Command::new(program).args(args))
}

/// Run `command` and return its standard output as text.
pub fn stdout_of(command: &mut Command) -> anyhow::Result<String> {
    let output = run(command)?;
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// Return the last `lines` lines of `text`, trimmed.
pub fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.trim_end().lines().collect();
    let start = all.len().saturating_sub(lines);
    all[start..].join("\n")
}

#[cfg(test)]
mod tests {
    use std::process::Command;

    use super::{run, tail};

    #[test]
    fn run_reports_status_and_stderr() {
        let error = run(Command::new("sh").args(["-c", "echo broken >&2; exit 3"])).unwrap_err();
        let message = error.to_string();
        assert!(
            message.contains("`sh -c echo broken >&2; exit 3` failed"),
            "{message}"
        );
        assert!(message.contains("exit status: 3"), "{message}");
        assert!(message.contains("broken"), "{message}");
    }

    #[test]
    fn tail_keeps_last_lines() {
        assert_eq!(tail("a\nb\nc\n", 2), "b\nc");
        assert_eq!(tail("a", 5), "a");
    }
}
