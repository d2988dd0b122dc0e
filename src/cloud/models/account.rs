//! The account behind the token, its SSH keys, and tags.

use serde::{Deserialize, Serialize};

use super::null_as_default;

/// `GET /v2/account`: who the token belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Account {
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub uuid: Option<String>,
    /// `active`, `warning` or `locked`.
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub status_message: Option<String>,
    #[serde(default)]
    pub droplet_limit: Option<u64>,
    #[serde(default)]
    pub email_verified: Option<bool>,
}

/// An SSH public key stored on the account.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct SshKey {
    pub id: u64,
    /// The MD5 fingerprint in colon-separated hex, as the API shows it.
    #[serde(default, deserialize_with = "null_as_default")]
    pub fingerprint: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub public_key: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub name: String,
}

impl SshKey {
    /// Returns whether this key is `public_key`: the same algorithm and key data,
    /// whatever the comments.
    pub fn matches_public_key(&self, public_key: &str) -> bool {
        let material = |text: &str| -> Option<(String, String)> {
            let mut fields = text.split_whitespace();
            Some((fields.next()?.to_string(), fields.next()?.to_string()))
        };
        match (material(&self.public_key), material(public_key)) {
            (Some(own), Some(other)) => own == other,
            _ => false,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Tag {
    pub name: String,
}

/// One resource to tag: `resource_id` is text even for droplets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TaggedResource {
    pub resource_id: String,
    /// `droplet`, `image`, `volume` or `volume_snapshot`.
    pub resource_type: String,
}

impl TaggedResource {
    pub fn droplet(id: u64) -> Self {
        Self {
            resource_id: id.to_string(),
            resource_type: "droplet".to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::SshKey;

    #[test]
    fn ssh_key_matches_ignoring_comment() {
        let key = SshKey {
            id: 1,
            fingerprint: String::new(),
            public_key: "ssh-ed25519 AAAAC3Nza operator@laptop".to_string(),
            name: "operator".to_string(),
        };
        assert!(key.matches_public_key("ssh-ed25519 AAAAC3Nza\n"));
        assert!(!key.matches_public_key("ssh-ed25519 AAAAother operator@laptop"));
        assert!(!key.matches_public_key(""));
    }
}
