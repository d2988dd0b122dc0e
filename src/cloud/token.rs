//! The sources of the DigitalOcean API token: a file readable by its owner
//! only, or the environment.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::cloud::error::TokenError;
use crate::secret::Secret;

/// The environment variables searched for a token, in order. doctl and the
/// Terraform provider read the same two.
pub const TOKEN_VARIABLES: [&str; 2] = ["DIGITALOCEAN_TOKEN", "DIGITALOCEAN_ACCESS_TOKEN"];

/// Read the API token: from `token_file` when given, else from the first of
/// [`TOKEN_VARIABLES`] that is set and not empty.
pub fn resolve_token(token_file: Option<&Path>) -> Result<Secret, TokenError> {
    resolve_token_with(token_file, |name| std::env::var(name).ok())
}

/// [`resolve_token`] with the environment lookup passed in, for tests.
pub fn resolve_token_with(
    token_file: Option<&Path>,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<Secret, TokenError> {
    if let Some(path) = token_file {
        return read_token_file(path);
    }

    for name in TOKEN_VARIABLES {
        if let Some(value) = lookup(name) {
            let token = Secret::new(value.trim());
            if !token.is_empty() {
                return Ok(token);
            }
        }
    }
    Err(TokenError::Missing)
}

/// Read a token file, rejecting one that group or others can read: the
/// token grants full control of the account.
pub fn read_token_file(path: &Path) -> Result<Secret, TokenError> {
    let unreadable = |source| TokenError::FileUnreadable {
        path: path.to_path_buf(),
        source,
    };

    let metadata = std::fs::metadata(path).map_err(unreadable)?;
    if metadata.is_dir() {
        return Err(TokenError::FileIsFolder {
            path: path.to_path_buf(),
        });
    }
    let mode = metadata.permissions().mode() & 0o7777;
    if mode & 0o077 != 0 {
        return Err(TokenError::FileTooOpen {
            path: path.to_path_buf(),
            mode,
        });
    }

    let text = zeroize::Zeroizing::new(std::fs::read_to_string(path).map_err(unreadable)?);
    let token = Secret::new(text.trim());
    if token.is_empty() {
        return Err(TokenError::FileEmpty {
            path: path.to_path_buf(),
        });
    }
    Ok(token)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::{TokenError, resolve_token_with};

    fn write_token(mode: u32) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "dop_v1_secretvalue\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        (dir, path)
    }

    #[test]
    fn token_file_owner_only_is_read() {
        let (_dir, path) = write_token(0o600);
        let token = resolve_token_with(Some(&path), |_| None).unwrap();
        assert_eq!(token.expose(), "dop_v1_secretvalue");
    }

    #[test]
    fn token_file_readable_by_group_is_rejected() {
        let (_dir, path) = write_token(0o640);
        let error = resolve_token_with(Some(&path), |_| None).unwrap_err();
        assert!(matches!(error, TokenError::FileTooOpen { mode: 0o640, .. }));
        let text = error.to_string();
        assert!(text.contains(&path.display().to_string()), "{text}");
        assert!(text.contains("0640"), "{text}");
        assert!(text.contains("chmod 600"), "{text}");
        assert!(!text.contains("dop_v1_secretvalue"), "{text}");
    }

    #[test]
    fn token_file_folder_is_rejected() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o711)).unwrap();

        let error = resolve_token_with(Some(dir.path()), |_| None).unwrap_err();
        assert!(matches!(error, TokenError::FileIsFolder { .. }));
        let text = error.to_string();
        assert!(text.contains("is a folder, not a file"), "{text}");
        assert!(!text.contains("chmod"), "{text}");
    }

    #[test]
    fn missing_token_file_names_cause_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("absent");

        let error = resolve_token_with(Some(&path), |_| None).unwrap_err();
        let rendered = crate::error::render(&anyhow::Error::new(error));
        assert_eq!(
            rendered.matches("No such file or directory").count(),
            1,
            "{rendered}"
        );
        assert!(
            rendered.starts_with(&format!(
                "error: cannot read token file `{}`\n",
                path.display()
            )),
            "{rendered}"
        );
    }

    #[test]
    fn token_variables_in_order() {
        let both = |name: &str| Some(format!("token-from-{name}"));
        let token = resolve_token_with(None, both).unwrap();
        assert_eq!(token.expose(), "token-from-DIGITALOCEAN_TOKEN");

        let second_only =
            |name: &str| (name == "DIGITALOCEAN_ACCESS_TOKEN").then(|| "access-token".to_string());
        assert_eq!(
            resolve_token_with(None, second_only).unwrap().expose(),
            "access-token"
        );

        let empty = |_: &str| Some("  ".to_string());
        assert!(matches!(
            resolve_token_with(None, empty),
            Err(TokenError::Missing)
        ));
    }
}
