//! Host keys wwctl generates for the servers it creates, so the first
//! connection to a new server is already verified.

use ssh_key::rand_core::OsRng;
use ssh_key::{Algorithm, LineEnding, PrivateKey, PublicKey};

use crate::secret::Secret;

/// A server's host key pair. The private half goes only into the server's
/// user data; the public half is pinned in known_hosts and the journal.
pub struct HostKeyPair {
    pub public: PublicKey,
    pub private_openssh: Secret,
}

impl std::fmt::Debug for HostKeyPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostKeyPair")
            .field("public", &super::known_hosts::fingerprint(&self.public))
            .field("private_openssh", &self.private_openssh)
            .finish()
    }
}

/// Generate an ed25519 host key pair in memory, labelled with `host`.
pub fn generate(host: &str) -> anyhow::Result<HostKeyPair> {
    let mut private = PrivateKey::random(&mut OsRng, Algorithm::Ed25519)?;
    private.set_comment(format!("root@{host}"));
    let encoded = private.to_openssh(LineEnding::LF)?;
    Ok(HostKeyPair {
        public: private.public_key().clone(),
        private_openssh: Secret::new(encoded.as_str()),
    })
}

/// Formats the public key as one OpenSSH line: `ssh-ed25519 AAAA... comment`.
pub fn public_line(key: &PublicKey) -> String {
    key.to_openssh().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::generate;

    #[test]
    fn generated_key_is_ed25519_and_private_part_redacted() {
        let pair = generate("prod-2023").unwrap();
        assert_eq!(pair.public.algorithm(), ssh_key::Algorithm::Ed25519);
        assert!(
            pair.private_openssh
                .expose()
                .starts_with("-----BEGIN OPENSSH PRIVATE KEY-----")
        );
        assert!(!format!("{pair:?}").contains("PRIVATE KEY"));
    }
}
