//! SSH keys on the account. `GET /v2/account/keys` is limited to 10 calls a
//! minute, so the client lists the keys once and keeps the list.

use serde::Deserialize;

use crate::cloud::client::{ApiRequest, CloudClient, segment};
use crate::cloud::error::CloudError;
use crate::cloud::models::SshKey;

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

    /// Add a public key (`ssh-ed25519 AAAA... comment`) under `name`.
    pub async fn create_ssh_key(&self, name: &str, public_key: &str) -> Result<SshKey, CloudError> {
        let mut request =
            ApiRequest::new(reqwest::Method::POST, "/v2/account/keys", "ssh_key:create");
        request.body = Some(serde_json::json!({"name": name, "public_key": public_key.trim()}));
        let body: SshKeyBody = self.fetch(&request).await?;

        if let Some(keys) = self
            .ssh_key_cache
            .lock()
            .expect("ssh key cache lock")
            .as_mut()
        {
            keys.push(body.ssh_key.clone());
        }
        Ok(body.ssh_key)
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
