//! Located problems in inventory and playbook files, and how they are printed.

use std::fmt;
use std::path::{Path, PathBuf};

/// A position in a source file, 1-based. Line 0 means the position is unknown.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct SourceRef {
    pub file: PathBuf,
    pub line: u64,
    pub column: u64,
}

impl SourceRef {
    pub fn new(file: &Path, line: u64, column: u64) -> Self {
        Self {
            file: file.to_path_buf(),
            line,
            column,
        }
    }

    /// A reference to a whole file, for problems without a better position.
    pub fn file(file: &Path) -> Self {
        Self::new(file, 0, 0)
    }
}

impl fmt::Display for SourceRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}", self.file.display())
        } else {
            write!(f, "{}:{}:{}", self.file.display(), self.line, self.column)
        }
    }
}

/// One problem found in a file: where, under which key path, what is wrong and what to do.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Diagnostic {
    pub at: SourceRef,
    /// Slash-separated path of keys from the document root, such as
    /// `fleets/2023/droplets/prod-2023/size`.
    pub key_path: String,
    pub message: String,
    pub hint: Option<String>,
}

impl Diagnostic {
    pub fn new(at: SourceRef, key_path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            at,
            key_path: key_path.into(),
            message: message.into(),
            hint: None,
        }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    pub fn with_optional_hint(mut self, hint: Option<String>) -> Self {
        self.hint = hint;
        self
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.at)?;
        if !self.key_path.is_empty() {
            write!(f, "{}: ", self.key_path)?;
        }
        write!(f, "{}", self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, "\n  hint: {hint}")?;
        }
        Ok(())
    }
}

/// Every problem found in one pass over a set of files. Loading reports all of
/// them at once, so a user fixes a file in one round instead of one error per run.
#[derive(Clone, Debug, Default, PartialEq, Eq, thiserror::Error, serde::Serialize)]
pub struct Diagnostics {
    pub items: Vec<Diagnostic>,
}

impl Diagnostics {
    pub fn push(&mut self, diagnostic: Diagnostic) {
        self.items.push(diagnostic);
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn extend(&mut self, other: Diagnostics) {
        self.items.extend(other.items);
    }

    /// Return `Err(self)` when any problem was recorded.
    pub fn into_result(self) -> Result<(), Diagnostics> {
        if self.items.is_empty() {
            Ok(())
        } else {
            Err(self)
        }
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, item) in self.items.iter().enumerate() {
            if index > 0 {
                writeln!(f)?;
            }
            write!(f, "{item}")?;
        }
        Ok(())
    }
}
