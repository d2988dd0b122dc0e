//! wwctl's own known_hosts file: host keys it pinned, and nothing else.
//!
//! Keys enter the file in three ways only: keys wwctl generated for a server
//! it created (passed in its user data), keys from the inventory, and keys a
//! user confirmed with `wwctl hosts trust`. An entry is replaced only when a
//! droplet this run created got the address of an older server.

use std::path::{Path, PathBuf};

use anyhow::Context;
use ssh_key::{HashAlg, PublicKey};

use crate::fsutil;

/// One pinned key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// `address` for port 22, `[address]:port` otherwise, as OpenSSH writes it.
    pub host: String,
    pub key: PublicKey,
}

#[derive(Clone, Debug)]
pub struct KnownHosts {
    path: PathBuf,
    entries: Vec<Entry>,
}

/// Formats the known_hosts name of an address and port.
pub fn host_pattern(address: &str, port: u16) -> String {
    if port == 22 {
        address.to_string()
    } else {
        format!("[{address}]:{port}")
    }
}

/// Computes the SHA-256 fingerprint of a key, as `ssh-keygen -l` prints it.
pub fn fingerprint(key: &PublicKey) -> String {
    key.fingerprint(HashAlg::Sha256).to_string()
}

/// Parse an OpenSSH public key line: `type base64 [comment]`.
pub fn parse_public_key(line: &str) -> anyhow::Result<PublicKey> {
    PublicKey::from_openssh(line.trim()).with_context(|| {
        let start: String = line.chars().take(40).collect();
        format!("`{start}` is not an OpenSSH public key (expected `ssh-ed25519 AAAA...`)")
    })
}

impl KnownHosts {
    /// Read the file at `path`; a missing file is an empty set.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(error) => {
                return Err(error).with_context(|| format!("cannot read `{}`", path.display()));
            }
        };

        let mut entries = Vec::new();
        for (number, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (host, key) = line.split_once(' ').with_context(|| {
                format!(
                    "{}:{}: expected `host keytype base64`",
                    path.display(),
                    number + 1
                )
            })?;
            let key = parse_public_key(key)
                .with_context(|| format!("{}:{}", path.display(), number + 1))?;
            entries.push(Entry {
                host: host.to_string(),
                key,
            });
        }
        Ok(Self {
            path: path.to_path_buf(),
            entries,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn keys_for(&self, host: &str) -> Vec<&PublicKey> {
        self.entries
            .iter()
            .filter(|entry| entry.host == host)
            .map(|entry| &entry.key)
            .collect()
    }

    /// Pins `keys` for `host`. Keys already pinned for the host stay. A host
    /// pinned to other keys is an error, because replacing keys silently is
    /// what an attacker would want.
    pub fn pin(&mut self, host: &str, keys: &[PublicKey]) -> anyhow::Result<bool> {
        let existing = self.keys_for(host);
        if !existing.is_empty()
            && !keys
                .iter()
                .any(|key| existing.iter().any(|known| same_key(known, key)))
        {
            anyhow::bail!(
                "`{host}` is already pinned to {}, and the new keys are {}",
                fingerprints(existing.into_iter()),
                fingerprints(keys.iter())
            );
        }

        let mut added = false;
        for key in keys {
            if !self.keys_for(host).iter().any(|known| same_key(known, key)) {
                self.entries.push(Entry {
                    host: host.to_string(),
                    key: key.clone(),
                });
                added = true;
            }
        }
        Ok(added)
    }

    /// Replace every key of `host` with `keys`. Only for an address that a
    /// droplet created by this run now holds.
    pub fn replace(&mut self, host: &str, keys: &[PublicKey]) {
        self.forget(host);
        for key in keys {
            self.entries.push(Entry {
                host: host.to_string(),
                key: key.clone(),
            });
        }
    }

    /// Remove every key of `host`; returns whether any was there.
    pub fn forget(&mut self, host: &str) -> bool {
        let before = self.entries.len();
        self.entries.retain(|entry| entry.host != host);
        before != self.entries.len()
    }

    /// Write the file atomically, mode 0600.
    pub fn save(&self) -> anyhow::Result<()> {
        let mut text = String::from(
            "# Host keys pinned by wwctl. Edit with `wwctl hosts trust`, not by hand.\n",
        );
        for entry in &self.entries {
            let key = entry.key.to_openssh().context("cannot encode a host key")?;
            let key_without_comment = key.split(' ').take(2).collect::<Vec<_>>().join(" ");
            text.push_str(&format!("{} {key_without_comment}\n", entry.host));
        }
        fsutil::write_atomic(&self.path, text.as_bytes(), 0o600)
            .with_context(|| format!("cannot write `{}`", self.path.display()))
    }
}

/// Keys compare by algorithm and key data; comments do not matter.
pub fn same_key(a: &PublicKey, b: &PublicKey) -> bool {
    a.key_data() == b.key_data()
}

pub fn fingerprints<'a>(keys: impl Iterator<Item = &'a PublicKey>) -> String {
    let prints: Vec<String> = keys
        .map(|key| format!("{} {}", key.algorithm(), fingerprint(key)))
        .collect();
    if prints.is_empty() {
        "no key".to_string()
    } else {
        prints.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::{KnownHosts, host_pattern, parse_public_key};
    use crate::remote::host_keys::{generate, public_line};

    #[test]
    fn pattern_brackets_non_default_port() {
        assert_eq!(host_pattern("10.77.0.5", 22), "10.77.0.5");
        assert_eq!(host_pattern("127.0.0.1", 2222), "[127.0.0.1]:2222");
    }

    #[test]
    fn pin_refuses_other_keys_and_replace_swaps() {
        let dir = tempfile::tempdir().unwrap();
        let mut known = KnownHosts::load(&dir.path().join("known_hosts")).unwrap();
        let a = parse_public_key(&public_line(&generate("a").unwrap().public)).unwrap();
        let b = parse_public_key(&public_line(&generate("b").unwrap().public)).unwrap();

        assert!(known.pin("10.77.0.5", std::slice::from_ref(&a)).unwrap());
        assert!(
            !known.pin("10.77.0.5", std::slice::from_ref(&a)).unwrap(),
            "pinning again adds nothing"
        );
        let error = known
            .pin("10.77.0.5", std::slice::from_ref(&b))
            .unwrap_err();
        assert!(error.to_string().contains("already pinned"), "{error}");

        known.replace("10.77.0.5", std::slice::from_ref(&b));
        known.save().unwrap();
        let reloaded = KnownHosts::load(&dir.path().join("known_hosts")).unwrap();
        let keys = reloaded.keys_for("10.77.0.5");
        assert_eq!(keys.len(), 1);
        assert_eq!(
            keys[0].key_data(),
            b.key_data(),
            "comments are not kept; the key is"
        );
    }
}
