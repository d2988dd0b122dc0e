//! Putting files on a server only when they differ, without ever leaving a
//! partial file in place.
//!
//! One command reads the owner, group, mode and SHA-256 of every file. Each
//! changed file is uploaded to `<path>.wwctl-new` (mode 0600 from the start).
//! Only after every upload and the optional validation succeeded are the new
//! files renamed over the live ones, and the previous versions stay as
//! `<path>.wwctl-prev`.
//! A dropped connection at any point leaves the live files untouched.

use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::error::RemoteError;
use super::host::{Cmd, Host};

/// Reads owner, group, mode and hash of each argument, one line per file in
/// argument order: `OK owner group mode sha256` or `MISSING`.
const STAT_SCRIPT: &str = r#"for f do
  if [ -f "$f" ]; then
    s=$(stat -c '%U %G %a' -- "$f") && h=$(sha256sum -- "$f") && printf 'OK %s %s\n' "$s" "${h%% *}"
  else
    printf 'MISSING\n'
  fi
done"#;

/// Writes stdin to `$1`, creating parent folders, with mode 0600 from the
/// first byte so a secret is never readable by others.
const UPLOAD_SCRIPT: &str = r#"set -e
mkdir -p -- "$(dirname -- "$1")"
umask 077
cat > "$1"
sync -- "$1""#;

/// Takes groups of `owner group mode temp path`: sets ownership and mode on
/// the temp file, keeps the live file as `.wwctl-prev`, renames the temp
/// file over it, and flushes the folder.
const INSTALL_SCRIPT: &str = r#"set -e
while [ $# -gt 0 ]; do
  owner=$1 group=$2 mode=$3 tmp=$4 path=$5
  shift 5
  chown -- "$owner:$group" "$tmp"
  chmod -- "$mode" "$tmp"
  if [ -f "$path" ]; then cp -p -- "$path" "$path.wwctl-prev"; fi
  mv -f -- "$tmp" "$path"
  sync -- "$(dirname -- "$path")"
done"#;

/// Copies tree `$1` to `$2` and places candidate files in it: the remaining
/// arguments are pairs of `temp path`, with `path` under `$1`.
const CANDIDATE_SCRIPT: &str = r#"set -e
root=$1 cand=$2
shift 2
rm -rf -- "$cand"
cp -a -- "$root" "$cand"
while [ $# -gt 0 ]; do
  rel=${2#"$root"/}
  mkdir -p -- "$(dirname -- "$cand/$rel")"
  cp -- "$1" "$cand/$rel"
  shift 2
done"#;

/// The contents of a file to put on a server.
#[derive(Clone)]
pub enum Contents {
    Plain(Vec<u8>),
    /// Contents that hold a secret: never logged, never shown in a diff.
    Secret(Zeroizing<Vec<u8>>),
}

impl Contents {
    pub fn bytes(&self) -> &[u8] {
        match self {
            Contents::Plain(bytes) => bytes,
            Contents::Secret(bytes) => bytes,
        }
    }

    pub fn is_secret(&self) -> bool {
        matches!(self, Contents::Secret(_))
    }
}

impl std::fmt::Debug for Contents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Contents::Plain(bytes) => write!(f, "Plain({} bytes)", bytes.len()),
            Contents::Secret(_) => f.write_str("Secret([redacted])"),
        }
    }
}

/// A file as it should be on the server.
#[derive(Clone, Debug)]
pub struct FileSpec {
    /// Absolute path without newlines or control characters.
    pub path: String,
    pub contents: Contents,
    pub owner: String,
    pub group: String,
    /// Permission bits, such as 0o644.
    pub mode: u32,
}

impl FileSpec {
    pub fn new(path: &str, contents: Contents, mode: u32) -> Self {
        Self {
            path: path.to_string(),
            contents,
            owner: "root".to_string(),
            group: "root".to_string(),
            mode,
        }
    }

    pub fn owned_by(mut self, owner: &str, group: &str) -> Self {
        self.owner = owner.to_string();
        self.group = group.to_string();
        self
    }

    fn digest(&self) -> String {
        hex::encode(Sha256::digest(self.contents.bytes()))
    }

    fn temp_path(&self) -> String {
        format!("{}.wwctl-new", self.path)
    }
}

/// How to check new files before they replace the live ones.
#[derive(Clone, Debug)]
pub enum Validation {
    /// Copy folder `root`, place the new files in the copy, and run `argv`
    /// with every `{tree}` replaced by the copy's path (for NGINX:
    /// `nginx -t -c {tree}/nginx.conf`).
    Tree { root: String, argv: Vec<String> },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FileStatus {
    Created,
    Updated,
    Unchanged,
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct FileResult {
    pub path: String,
    pub status: FileStatus,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct SyncReport {
    pub files: Vec<FileResult>,
}

impl SyncReport {
    pub fn changed(&self) -> bool {
        self.files
            .iter()
            .any(|file| file.status != FileStatus::Unchanged)
    }

    pub fn changed_paths(&self) -> Vec<&str> {
        self.files
            .iter()
            .filter(|file| file.status != FileStatus::Unchanged)
            .map(|file| file.path.as_str())
            .collect()
    }
}

/// The state of one file on the server.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Current {
    Missing,
    Present {
        owner: String,
        group: String,
        mode: u32,
        digest: String,
    },
}

/// Compare `files` with the server: the status each would get.
pub async fn compare(host: &Host, files: &[FileSpec]) -> Result<Vec<FileResult>, RemoteError> {
    check_paths(host, files)?;
    let current = read_current(host, files).await?;
    Ok(files
        .iter()
        .zip(current)
        .map(|(file, current)| FileResult {
            path: file.path.clone(),
            status: status_of(file, &current),
        })
        .collect())
}

/// Bring `files` on `host` to the wanted state, validating first when asked.
pub async fn sync(
    host: &Host,
    files: &[FileSpec],
    validation: Option<&Validation>,
) -> Result<SyncReport, RemoteError> {
    let results = compare(host, files).await?;
    let changed: Vec<&FileSpec> = files
        .iter()
        .zip(&results)
        .filter(|(_, result)| result.status != FileStatus::Unchanged)
        .map(|(file, _)| file)
        .collect();
    if changed.is_empty() {
        return Ok(SyncReport { files: results });
    }

    let uploads = changed.iter().map(|file| upload(host, file));
    for result in futures_util::future::join_all(uploads).await {
        result?;
    }

    if let Some(validation) = validation
        && let Err(error) = validate(host, &changed, validation).await
    {
        remove_temp_files(host, &changed).await;
        return Err(error);
    }

    install(host, &changed).await?;
    for file in &changed {
        tracing::info!(host = %host.target.name, path = %file.path, "file updated");
    }
    Ok(SyncReport { files: results })
}

fn check_paths(host: &Host, files: &[FileSpec]) -> Result<(), RemoteError> {
    for file in files {
        if !file.path.starts_with('/') || file.path.chars().any(char::is_control) {
            return Err(RemoteError::CommandFailed {
                host: host.target.name.clone(),
                command: format!("sync {:?}", file.path),
                status: "not run".to_string(),
                stderr: "; the path must be absolute and free of control characters".to_string(),
            });
        }
    }
    Ok(())
}

async fn read_current(host: &Host, files: &[FileSpec]) -> Result<Vec<Current>, RemoteError> {
    let mut argv = vec![
        "sh".to_string(),
        "-c".to_string(),
        STAT_SCRIPT.to_string(),
        "sh".to_string(),
    ];
    argv.extend(files.iter().map(|file| file.path.clone()));
    let cmd = Cmd::new(&argv);
    let output = host.run(&cmd).await?;

    let text = output.stdout_text();
    let lines: Vec<&str> = text.lines().collect();
    if lines.len() != files.len() {
        return Err(RemoteError::CommandFailed {
            host: host.target.name.clone(),
            command: "read file states".to_string(),
            status: "0".to_string(),
            stderr: format!(
                "; expected {} lines of file state, got {}",
                files.len(),
                lines.len()
            ),
        });
    }
    Ok(lines.into_iter().map(parse_current).collect())
}

fn parse_current(line: &str) -> Current {
    let fields: Vec<&str> = line.split_whitespace().collect();
    match fields.as_slice() {
        ["OK", owner, group, mode, digest] => Current::Present {
            owner: (*owner).to_string(),
            group: (*group).to_string(),
            mode: u32::from_str_radix(mode, 8).unwrap_or(u32::MAX),
            digest: (*digest).to_string(),
        },
        _ => Current::Missing,
    }
}

fn status_of(file: &FileSpec, current: &Current) -> FileStatus {
    match current {
        Current::Missing => FileStatus::Created,
        Current::Present {
            owner,
            group,
            mode,
            digest,
        } if *owner == file.owner
            && *group == file.group
            && *mode == file.mode
            && *digest == file.digest() =>
        {
            FileStatus::Unchanged
        }
        Current::Present { .. } => FileStatus::Updated,
    }
}

async fn upload(host: &Host, file: &FileSpec) -> Result<(), RemoteError> {
    let argv = ["sh", "-c", UPLOAD_SCRIPT, "sh", &file.temp_path()];
    host.run_with_input(&Cmd::new(&argv), file.contents.bytes())
        .await?;
    Ok(())
}

async fn install(host: &Host, files: &[&FileSpec]) -> Result<(), RemoteError> {
    let mut argv = vec![
        "sh".to_string(),
        "-c".to_string(),
        INSTALL_SCRIPT.to_string(),
        "sh".to_string(),
    ];
    for file in files {
        argv.extend([
            file.owner.clone(),
            file.group.clone(),
            format!("{:o}", file.mode),
            file.temp_path(),
            file.path.clone(),
        ]);
    }
    host.run(&Cmd::new(&argv)).await?;
    Ok(())
}

async fn validate(
    host: &Host,
    files: &[&FileSpec],
    validation: &Validation,
) -> Result<(), RemoteError> {
    let Validation::Tree { root, argv } = validation;
    let candidate = format!("{}.wwctl-candidate", root.trim_end_matches('/'));

    let mut setup = vec![
        "sh".to_string(),
        "-c".to_string(),
        CANDIDATE_SCRIPT.to_string(),
        "sh".to_string(),
        root.clone(),
        candidate.clone(),
    ];
    for file in files
        .iter()
        .filter(|file| file.path.starts_with(&format!("{root}/")))
    {
        setup.extend([file.temp_path(), file.path.clone()]);
    }
    host.run(&Cmd::new(&setup)).await?;

    let check: Vec<String> = argv
        .iter()
        .map(|arg| arg.replace("{tree}", &candidate))
        .collect();
    let result = host.run(&Cmd::new(&check)).await;
    let _ = host.run(&Cmd::new(&["rm", "-rf", "--", &candidate])).await;
    result.map(|_| ())
}

async fn remove_temp_files(host: &Host, files: &[&FileSpec]) {
    let mut argv = vec!["rm".to_string(), "-f".to_string(), "--".to_string()];
    argv.extend(files.iter().map(|file| file.temp_path()));
    let _ = host.run(&Cmd::new(&argv)).await;
}

/// Reads the current text of a file on the server for a dry run's diff,
/// or `None` when the file does not exist.
pub async fn read_text(host: &Host, path: &str) -> Result<Option<String>, RemoteError> {
    let output = host.run_unchecked(&Cmd::new(&["cat", "--", path])).await?;
    Ok(output.success().then(|| output.stdout_text()))
}
