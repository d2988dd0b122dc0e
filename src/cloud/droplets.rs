//! Reading and deleting droplets.
//!
//! Deletion goes by id only: a step deletes the ids its run recorded when it
//! created or adopted them, never what a name or tag happens to match now.

use serde::Deserialize;

use crate::cloud::client::{ApiRequest, CloudClient};
use crate::cloud::error::CloudError;
use crate::cloud::models::Droplet;

/// The outcome of deleting an owned resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deletion {
    Deleted,
    /// The API returned 404: an earlier, interrupted run deleted it already.
    AlreadyGone,
}

#[derive(Deserialize)]
struct DropletBody {
    droplet: Droplet,
}

impl CloudClient {
    /// `GET /v2/droplets/{id}`.
    pub async fn droplet(&self, droplet_id: u64) -> Result<Droplet, CloudError> {
        let request = ApiRequest::get(format!("/v2/droplets/{droplet_id}"), "droplet:read");
        let body: DropletBody = self.fetch(&request).await?;
        Ok(body.droplet)
    }

    /// Lists every droplet with `tag`.
    pub async fn droplets_by_tag(&self, tag: &str) -> Result<Vec<Droplet>, CloudError> {
        let request = ApiRequest::get("/v2/droplets", "tag:read").query("tag_name", tag);
        self.list_all(request, "droplets").await
    }

    /// Lists every droplet named `name`. The API matches names without case.
    pub async fn droplets_by_name(&self, name: &str) -> Result<Vec<Droplet>, CloudError> {
        let request = ApiRequest::get("/v2/droplets", "droplet:read").query("name", name);
        let droplets: Vec<Droplet> = self.list_all(request, "droplets").await?;
        Ok(droplets
            .into_iter()
            .filter(|droplet| droplet.name.eq_ignore_ascii_case(name))
            .collect())
    }

    /// Returns the one droplet named `name`, if any. Two or more fail with
    /// [`CloudError::Ambiguous`] naming their ids, because acting on one of
    /// them by name could hit a live server.
    pub async fn droplet_named(&self, name: &str) -> Result<Option<Droplet>, CloudError> {
        let droplets = self.droplets_by_name(name).await?;
        single(
            droplets,
            "droplets",
            name,
            "act on the id the run recorded, or rename or delete the extra droplets in the control panel",
        )
    }

    /// Delete a droplet by the id the run recorded for it. A 404 means an
    /// earlier run deleted it already and returns [`Deletion::AlreadyGone`].
    pub async fn delete_droplet(&self, droplet_id: u64) -> Result<Deletion, CloudError> {
        let path = format!("/v2/droplets/{droplet_id}");
        let request = ApiRequest::new(reqwest::Method::DELETE, path, "droplet:delete");
        self.delete(&request).await
    }

    /// Send a DELETE, reading 404 as already deleted.
    pub(crate) async fn delete(&self, request: &ApiRequest) -> Result<Deletion, CloudError> {
        match self.execute(request).await {
            Ok(_) => Ok(Deletion::Deleted),
            Err(error) if error.is_not_found() => {
                tracing::debug!(path = %request.path, "already deleted");
                Ok(Deletion::AlreadyGone)
            }
            Err(error) => Err(error),
        }
    }
}

/// Returns the only droplet of `droplets`, none, or an ambiguity error.
pub(crate) fn single(
    droplets: Vec<Droplet>,
    what: &'static str,
    name: &str,
    hint: &'static str,
) -> Result<Option<Droplet>, CloudError> {
    if droplets.len() > 1 {
        return Err(CloudError::Ambiguous {
            what,
            name: name.to_string(),
            count: droplets.len(),
            ids: droplets
                .iter()
                .map(|droplet| droplet.id.to_string())
                .collect(),
            hint,
        });
    }
    Ok(droplets.into_iter().next())
}
