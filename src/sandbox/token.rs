//! Sandbox API tokens and the accounts they open.
//!
//! Any token `sandbox-<something>` is valid and owns one account, keyed by
//! the SHA-256 of the token so that neither the state file nor the log
//! contains a token.

use std::fmt;

use sha2::{Digest, Sha256};

use crate::secret::Secret;

/// The prefix every sandbox token starts with.
pub const PREFIX: &str = "sandbox-";

/// The key of an account: the hex SHA-256 of its token.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AccountKey(pub String);

impl AccountKey {
    /// Derive the account of a bearer token, or `None` when the token is not
    /// a sandbox token.
    pub fn from_token(token: &str) -> Option<Self> {
        let suffix = token.strip_prefix(PREFIX)?;
        let valid = !suffix.is_empty()
            && suffix.len() <= 200
            && suffix
                .bytes()
                .all(|byte| byte.is_ascii_alphanumeric() || b"-_.:".contains(&byte));
        if !valid {
            return None;
        }
        Some(Self(hex::encode(Sha256::digest(token.as_bytes()))))
    }

    /// Return a short form for log lines.
    pub fn short(&self) -> &str {
        &self.0[..12]
    }
}

impl fmt::Display for AccountKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.short())
    }
}

/// Generate a new random sandbox token.
pub fn generate() -> Secret {
    let bytes: [u8; 16] = rand::random();
    Secret::new(format!("{PREFIX}{}", hex::encode(bytes)))
}

#[cfg(test)]
mod tests {
    use super::AccountKey;

    #[test]
    fn sandbox_tokens_open_accounts() {
        let key = AccountKey::from_token("sandbox-test-1").unwrap();
        assert_eq!(key.0.len(), 64);
        assert_ne!(key, AccountKey::from_token("sandbox-test-2").unwrap());
        assert!(!key.0.contains("test"));
    }

    #[test]
    fn other_tokens_are_rejected() {
        assert_eq!(AccountKey::from_token("dop_v1_abc"), None);
        assert_eq!(AccountKey::from_token("sandbox-"), None);
        assert_eq!(AccountKey::from_token("sandbox-a b"), None);
    }
}
