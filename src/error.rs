//! Exit codes, errors a user can act on, and how errors are printed.

use std::fmt;

use crate::diagnostic::Diagnostics;

/// The process exit codes wwctl documents in its README.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[repr(u8)]
pub enum ExitCode {
    /// The command succeeded; for a dry run, nothing would change.
    Success = 0,
    /// An unexpected failure.
    Failure = 1,
    /// A dry run found changes to make.
    ChangesPending = 2,
    /// Invalid flags, inventory or playbook.
    Usage = 3,
    /// The DigitalOcean API failed or rejected a request.
    Api = 4,
    /// A command or connection on a server failed.
    Remote = 5,
    /// The run stopped on request or on a signal; re-running resumes it.
    Interrupted = 6,
    /// Another run holds the lock.
    Locked = 7,
    /// A safety check refused to go on (a health gate, a teardown guard).
    Refused = 8,
}

impl ExitCode {
    pub fn code(self) -> u8 {
        self as u8
    }
}

/// An error with a message and a hint for the user, and the exit code it
/// maps to.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct UserError {
    pub message: String,
    pub hint: Option<String>,
    pub exit_code: ExitCode,
}

impl UserError {
    pub fn new(exit_code: ExitCode, message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            hint: None,
            exit_code,
        }
    }

    /// Creates an error in flags, inventory or playbooks.
    pub fn usage(message: impl Into<String>) -> Self {
        Self::new(ExitCode::Usage, message)
    }

    /// Creates the error of a safety check that refused to continue.
    pub fn refused(message: impl Into<String>) -> Self {
        Self::new(ExitCode::Refused, message)
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

/// An error with a hint for the user. It prints as the error it wraps, and
/// the printer adds the hint after the cause chain.
#[derive(Debug)]
pub struct Hinted {
    pub hint: String,
    inner: anyhow::Error,
}

impl fmt::Display for Hinted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.inner, f)
    }
}

impl std::error::Error for Hinted {
    /// Returns the wrapped error itself, so its type stays visible in the
    /// chain. The printer skips the repeated message.
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(self.inner.as_ref())
    }
}

/// Attach a hint to an error: `result.hint("free some space")`.
pub trait HintExt<T> {
    fn hint(self, text: impl Into<String>) -> anyhow::Result<T>;
}

impl<T, E: Into<anyhow::Error>> HintExt<T> for Result<T, E> {
    fn hint(self, text: impl Into<String>) -> anyhow::Result<T> {
        self.map_err(|error| {
            anyhow::Error::new(Hinted {
                hint: text.into(),
                inner: error.into(),
            })
        })
    }
}

/// Errors of other modules declare their exit code through this trait.
pub trait HasExitCode {
    fn exit_code(&self) -> ExitCode;
}

/// Returns the exit code for an error: that of the first error in the chain
/// that declares one.
pub fn exit_code_for(error: &anyhow::Error) -> ExitCode {
    for cause in error.chain() {
        if let Some(user) = cause.downcast_ref::<UserError>() {
            return user.exit_code;
        }
        if cause.downcast_ref::<Diagnostics>().is_some() {
            return ExitCode::Usage;
        }
        if let Some(code) = declared_exit_code(cause) {
            return code;
        }
    }
    ExitCode::Failure
}

/// Returns the exit code a module's own error type declares. Each typed
/// error that callers can meet at the top level is listed here.
fn declared_exit_code(cause: &(dyn std::error::Error + 'static)) -> Option<ExitCode> {
    if let Some(error) = cause.downcast_ref::<crate::engine::lock::LockError>() {
        return Some(error.exit_code());
    }
    if let Some(error) = cause.downcast_ref::<crate::remote::RemoteError>() {
        return Some(error.exit_code());
    }
    if let Some(error) = cause.downcast_ref::<crate::engine::Interrupted>() {
        return Some(error.exit_code());
    }
    if let Some(error) = cause.downcast_ref::<crate::cloud::CloudError>() {
        return Some(error.exit_code());
    }
    if let Some(error) = cause.downcast_ref::<crate::cloud::TokenError>() {
        return Some(error.exit_code());
    }
    None
}

/// Render an error as `error:`, `caused by:` and `hint:` lines.
pub fn render(error: &anyhow::Error) -> String {
    let mut messages: Vec<String> = Vec::new();
    let mut hints: Vec<String> = Vec::new();

    for cause in error.chain() {
        if let Some(hinted) = cause.downcast_ref::<Hinted>() {
            hints.push(hinted.hint.clone());
        }
        if let Some(user) = cause.downcast_ref::<UserError>()
            && let Some(hint) = &user.hint
        {
            hints.push(hint.clone());
        }
        let text = cause.to_string();
        if !text.is_empty() && messages.last() != Some(&text) {
            messages.push(text);
        }
    }

    let mut out = String::new();
    for (index, message) in messages.iter().enumerate() {
        let label = if index == 0 { "error" } else { "caused by" };
        let mut lines = message.lines();
        out.push_str(&format!("{label}: {}\n", lines.next().unwrap_or_default()));
        for line in lines {
            out.push_str(&format!("  {line}\n"));
        }
    }
    for hint in hints {
        out.push_str(&format!("hint: {hint}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use anyhow::Context;

    use super::{ExitCode, HintExt, UserError, exit_code_for, render};

    #[test]
    fn render_prints_chain_and_hint() {
        let error = Err::<(), _>(std::io::Error::other("disk full"))
            .context("cannot write the journal")
            .hint("free some space")
            .unwrap_err();
        assert_eq!(
            render(&error),
            "error: cannot write the journal\ncaused by: disk full\nhint: free some space\n"
        );
    }

    #[test]
    fn hint_keeps_exit_code_of_wrapped_error() {
        let error = Err::<(), _>(UserError::new(ExitCode::Locked, "held"))
            .hint("wait")
            .unwrap_err();
        assert_eq!(exit_code_for(&error), ExitCode::Locked);
        assert_eq!(render(&error), "error: held\nhint: wait\n");
    }

    #[test]
    fn user_error_sets_exit_code() {
        let error = anyhow::Error::new(
            UserError::usage("unknown fleet `2O23`").with_hint("did you mean `2023`?"),
        );
        assert_eq!(exit_code_for(&error), ExitCode::Usage);
        assert_eq!(
            render(&error),
            "error: unknown fleet `2O23`\nhint: did you mean `2023`?\n"
        );
    }
}
