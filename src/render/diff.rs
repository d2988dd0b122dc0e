//! The change that writing a rendered file would make on a server, as a
//! unified diff. Secret files are compared but never shown.

use std::fmt;

use similar::TextDiff;

use crate::render::file::RenderedFile;

/// Lines of context around each change.
const CONTEXT_LINES: usize = 3;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FileChange {
    Unchanged,
    /// The file does not exist yet. `diff` is `None` for a secret file.
    Create {
        path: String,
        diff: Option<String>,
    },
    /// The file exists with other contents. `diff` is `None` for a secret file.
    Update {
        path: String,
        diff: Option<String>,
    },
}

impl FileChange {
    pub fn is_change(&self) -> bool {
        !matches!(self, FileChange::Unchanged)
    }
}

impl fmt::Display for FileChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FileChange::Unchanged => Ok(()),
            FileChange::Create { path, diff: None } => {
                writeln!(f, "create {path} (secret file, contents not shown)")
            }
            FileChange::Update { path, diff: None } => {
                writeln!(f, "update {path} (secret file, contents not shown)")
            }
            FileChange::Create {
                diff: Some(diff), ..
            }
            | FileChange::Update {
                diff: Some(diff), ..
            } => f.write_str(diff),
        }
    }
}

/// Compare what a server has at the file's path (`None` when the file is
/// missing) with the rendered file. Contents that are not UTF-8 are shown
/// with replacement characters.
pub fn diff_file(current: Option<&[u8]>, rendered: &RenderedFile) -> FileChange {
    let new = rendered.contents.expose();
    if current == Some(new.as_bytes()) {
        return FileChange::Unchanged;
    }

    let path = rendered.path.clone();
    let diff = (!rendered.is_secret()).then(|| {
        let old = current.map(String::from_utf8_lossy).unwrap_or_default();
        unified_diff(&path, &old, new, current.is_none())
    });
    match current {
        None => FileChange::Create { path, diff },
        Some(_) => FileChange::Update { path, diff },
    }
}

/// Builds a unified diff from `old` to `new` with `a/` and `b/` headers, or
/// `/dev/null` as the old side of a new file. Never call it with a secret.
pub fn unified_diff(path: &str, old: &str, new: &str, created: bool) -> String {
    let old_header = if created {
        "/dev/null".to_string()
    } else {
        format!("a{path}")
    };
    let new_header = format!("b{path}");
    TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(CONTEXT_LINES)
        .header(&old_header, &new_header)
        .to_string()
}
