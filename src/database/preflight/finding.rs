//! Findings: what a preflight check found, how bad it is, and what to do.

use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Blocks the sync: no data moves until it is fixed.
    Error,
    /// The sync can go on, but the user should know.
    Warning,
    Info,
}

impl Severity {
    pub fn name(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
        }
    }
}

/// One result of a preflight check.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Finding {
    /// The check's name, such as `collations` or `definers`.
    pub check: &'static str,
    pub severity: Severity,
    pub message: String,
    /// The action that fixes it.
    pub hint: String,
}

impl Finding {
    pub fn error(check: &'static str, message: impl Into<String>, hint: impl Into<String>) -> Self {
        Self::new(check, Severity::Error, message, hint)
    }

    pub fn warning(
        check: &'static str,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) -> Self {
        Self::new(check, Severity::Warning, message, hint)
    }

    pub fn info(check: &'static str, message: impl Into<String>) -> Self {
        Self::new(check, Severity::Info, message, "")
    }

    fn new(
        check: &'static str,
        severity: Severity,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) -> Self {
        Self {
            check,
            severity,
            message: message.into(),
            hint: hint.into(),
        }
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} [{}]: {}",
            self.severity.name(),
            self.check,
            self.message
        )?;
        if !self.hint.is_empty() {
            write!(f, "\n  hint: {}", self.hint)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::Finding;

    #[test]
    fn finding_prints_and_serializes() {
        let finding = Finding::error("disk", "target is full", "free some space");
        assert_eq!(
            finding.to_string(),
            "error [disk]: target is full\n  hint: free some space"
        );
        assert_eq!(
            serde_json::to_string(&finding).unwrap(),
            r#"{"check":"disk","severity":"error","message":"target is full","hint":"free some space"}"#
        );
    }
}
