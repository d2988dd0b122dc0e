//! A rendered file: where it goes on a server, what it contains, who owns it
//! and how the server can check it.

use std::fmt;

use crate::secret::Secret;

/// The text of a rendered file. Secret contents (passwords, private keys)
/// print as `[redacted]` through `Debug`, `Display` and `Serialize`, and are
/// wiped from memory on drop.
#[derive(Clone, PartialEq, Eq)]
pub enum Contents {
    Text(String),
    Secret(Secret),
}

impl Contents {
    /// Returns the text of a file that may be shown, or `None` for a secret file.
    pub fn text(&self) -> Option<&str> {
        match self {
            Contents::Text(text) => Some(text),
            Contents::Secret(_) => None,
        }
    }

    /// Returns the text to write on the server. For a secret file, call this
    /// only where the file is sent.
    pub fn expose(&self) -> &str {
        match self {
            Contents::Text(text) => text,
            Contents::Secret(secret) => secret.expose(),
        }
    }

    pub fn is_secret(&self) -> bool {
        matches!(self, Contents::Secret(_))
    }

    pub fn len(&self) -> usize {
        self.expose().len()
    }

    pub fn is_empty(&self) -> bool {
        self.expose().is_empty()
    }
}

impl fmt::Debug for Contents {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Contents::Text(text) => fmt::Debug::fmt(text, f),
            Contents::Secret(_) => f.write_str(Secret::REDACTED),
        }
    }
}

/// The check a server runs on a file after it is written: the argv of
/// [`Validation::argv`], where exit status 0 means valid.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Validation {
    /// The whole NGINX configuration, with `nginx -t`. Run it once after
    /// writing every NGINX file of a host.
    NginxConfig,
    /// The server's option files. MariaDB has no `--validate-config`, which
    /// MySQL 8.0.16 and later have. `mariadbd --help --verbose` reads every
    /// option file, rejects unknown options and invalid values with a
    /// non-zero exit, and starts no storage engine. Discard its long stdout.
    MysqlConfig,
    SystemdUnit,
    PythonSyntax,
    Json,
    /// cloud-init user data; checked before the droplet is created, not on it.
    CloudConfig,
}

impl Validation {
    /// Returns the command that checks `path` on the server.
    pub fn argv(self, path: &str) -> Vec<String> {
        let words: Vec<&str> = match self {
            Validation::NginxConfig => vec!["nginx", "-t", "-q"],
            Validation::MysqlConfig => vec!["mariadbd", "--help", "--verbose"],
            Validation::SystemdUnit => vec!["systemd-analyze", "verify", path],
            Validation::PythonSyntax => vec![
                "python3",
                "-c",
                "import ast, sys; ast.parse(open(sys.argv[1]).read(), sys.argv[1])",
                path,
            ],
            // json.load prints nothing, so a secret file's text never reaches
            // the command's output.
            Validation::Json => vec![
                "python3",
                "-c",
                "import json, sys; json.load(open(sys.argv[1]))",
                path,
            ],
            Validation::CloudConfig => vec!["cloud-init", "schema", "--config-file", path],
        };
        words.into_iter().map(str::to_string).collect()
    }
}

/// A file to put on a server.
#[derive(Clone, PartialEq, Eq)]
pub struct RenderedFile {
    /// Absolute path on the server.
    pub path: String,
    pub contents: Contents,
    /// Permission bits, such as `0o644`.
    pub mode: u32,
    pub owner: String,
    pub group: String,
    pub validate: Option<Validation>,
}

impl RenderedFile {
    /// Creates a plain file owned by root, mode 0644.
    pub fn text(path: impl Into<String>, contents: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            contents: Contents::Text(contents.into()),
            mode: 0o644,
            owner: "root".to_string(),
            group: "root".to_string(),
            validate: None,
        }
    }

    pub fn is_secret(&self) -> bool {
        self.contents.is_secret()
    }

    pub fn with_validation(mut self, validation: Validation) -> Self {
        self.validate = Some(validation);
        self
    }

    /// Formats the mode as `install -m` takes it, such as `0644`.
    pub fn mode_octal(&self) -> String {
        format!("{:04o}", self.mode)
    }
}

impl fmt::Debug for RenderedFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RenderedFile")
            .field("path", &self.path)
            .field("mode", &self.mode_octal())
            .field("owner", &self.owner)
            .field("group", &self.group)
            .field("validate", &self.validate)
            .field("contents", &self.contents)
            .finish()
    }
}

/// The description of a file that `wwctl render --output json` prints,
/// without its contents.
#[derive(Clone, Debug, serde::Serialize)]
pub struct FileSummary {
    pub path: String,
    pub mode: String,
    pub owner: String,
    pub group: String,
    pub secret: bool,
    pub bytes: usize,
    pub validate: Option<Validation>,
}

impl From<&RenderedFile> for FileSummary {
    fn from(file: &RenderedFile) -> Self {
        Self {
            path: file.path.clone(),
            mode: file.mode_octal(),
            owner: file.owner.clone(),
            group: file.group.clone(),
            secret: file.is_secret(),
            bytes: file.contents.len(),
            validate: file.validate,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Contents, RenderedFile};
    use crate::secret::Secret;

    #[test]
    fn debug_of_secret_file_hides_contents() {
        let mut file = RenderedFile::text("/opt/app/config.json", "");
        file.contents = Contents::Secret(Secret::new("{\"password\": \"hunter2\"}"));
        let printed = format!("{file:?}");
        assert!(!printed.contains("hunter2"), "{printed}");
        assert!(printed.contains("[redacted]"), "{printed}");
    }
}
