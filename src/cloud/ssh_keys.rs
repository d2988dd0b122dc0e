//! SSH keys on the account. `GET /v2/account/keys` is limited to 10 calls a
//! minute, so the client lists the keys once and keeps the list.

use md5::{Digest, Md5};
use serde::Deserialize;

use crate::cloud::client::{ApiRequest, ApiResponse, CloudClient, segment};
use crate::cloud::error::CloudError;
use crate::cloud::models::SshKey;

/// Computes the fingerprint the API gives a key: the MD5 digest of the key blob
/// in colon-separated lowercase hex. `None` when `public_key` is not an
/// OpenSSH public key line.
fn md5_fingerprint(public_key: &str) -> Option<String> {
    let key = ssh_key::PublicKey::from_openssh(public_key.trim()).ok()?;
    let blob = key.to_bytes().ok()?;
    let digest = Md5::digest(&blob);
    let pairs: Vec<String> = digest.iter().map(|byte| format!("{byte:02x}")).collect();
    Some(pairs.join(":"))
}

#[derive(Deserialize)]
struct SshKeyBody {
    ssh_key: SshKey,
}

impl CloudClient {
    /// Returns every SSH key on the account, listed once per client and then cached.
    pub async fn ssh_keys(&self) -> Result<Vec<SshKey>, CloudError> {
        if let Some(keys) = self
            .ssh_key_cache
            .lock()
            .expect("ssh key cache lock")
            .clone()
        {
            return Ok(keys);
        }
        self.refresh_ssh_keys().await
    }

    /// List the SSH keys again, replacing the cached list.
    pub async fn refresh_ssh_keys(&self) -> Result<Vec<SshKey>, CloudError> {
        let request = ApiRequest::get("/v2/account/keys", "ssh_key:read");
        let keys: Vec<SshKey> = self.list_all(request, "ssh_keys").await?;
        *self.ssh_key_cache.lock().expect("ssh key cache lock") = Some(keys.clone());
        Ok(keys)
    }

    /// Returns the key with this id or MD5 fingerprint, or `None`.
    pub async fn ssh_key(&self, id_or_fingerprint: &str) -> Result<Option<SshKey>, CloudError> {
        let path = format!("/v2/account/keys/{}", segment(id_or_fingerprint));
        let request = ApiRequest::get(path, "ssh_key:read");
        match self.fetch::<SshKeyBody>(&request).await {
            Ok(body) => Ok(Some(body.ssh_key)),
            Err(error) if error.is_not_found() => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// Add a public key (`ssh-ed25519 AAAA... comment`) under `name`. After
    /// an ambiguous failure, a key with the same fingerprint is adopted, also
    /// when a retry got 422 "already in use".
    pub async fn create_ssh_key(&self, name: &str, public_key: &str) -> Result<SshKey, CloudError> {
        let mut request =
            ApiRequest::new(reqwest::Method::POST, "/v2/account/keys", "ssh_key:create");
        request.body = Some(serde_json::json!({"name": name, "public_key": public_key.trim()}));

        let object = format!("SSH key `{name}`");
        let parse = |response: ApiResponse| Ok(response.json::<SshKeyBody>()?.ssh_key);
        let key = self
            .post_or_adopt(&request, &object, parse, || self.find_ssh_key(public_key))
            .await?;

        if let Some(keys) = self
            .ssh_key_cache
            .lock()
            .expect("ssh key cache lock")
            .as_mut()
            && !keys.iter().any(|cached| cached.id == key.id)
        {
            keys.push(key.clone());
        }
        Ok(key)
    }

    /// Returns the account's key for `public_key`: by its MD5 fingerprint,
    /// which is not subject to the listing's rate limit, or from a fresh list
    /// when the key cannot be parsed here.
    async fn find_ssh_key(&self, public_key: &str) -> Result<Option<SshKey>, CloudError> {
        match md5_fingerprint(public_key) {
            Some(fingerprint) => self.ssh_key(&fingerprint).await,
            None => Ok(self
                .refresh_ssh_keys()
                .await?
                .into_iter()
                .find(|key| key.matches_public_key(public_key))),
        }
    }

    /// Returns the account's key for `public_key`, adding it under `name` when missing.
    /// Keys are compared by algorithm and key data, not by name or comment.
    pub async fn ensure_ssh_key(&self, name: &str, public_key: &str) -> Result<SshKey, CloudError> {
        let keys = self.ssh_keys().await?;
        if let Some(key) = keys
            .into_iter()
            .find(|key| key.matches_public_key(public_key))
        {
            return Ok(key);
        }
        self.create_ssh_key(name, public_key).await
    }
}

#[cfg(test)]
mod tests {
    use super::md5_fingerprint;

    #[test]
    fn fingerprint_of_ed25519_key() {
        // The key and its fingerprint, as `ssh-keygen -l -E md5` prints it.
        let key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIG5YWoO3+I0SYtypeaOAMZcM6T6r8tpIgMsDWwd5ee7g test@example";
        assert_eq!(
            md5_fingerprint(key).as_deref(),
            Some("e5:0d:23:26:c0:2d:13:8d:97:a0:02:c6:cb:67:c1:93")
        );
        assert_eq!(md5_fingerprint("ssh-ed25519 not-base64"), None);
    }
}
