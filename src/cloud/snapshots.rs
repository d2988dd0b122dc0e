//! Listing and deleting snapshots. Take one with
//! [`crate::cloud::DropletAction::Snapshot`].

use crate::cloud::client::{ApiRequest, CloudClient, segment};
use crate::cloud::droplets::Deletion;
use crate::cloud::error::CloudError;
use crate::cloud::models::{DropletSnapshot, Snapshot};

impl CloudClient {
    /// Lists the snapshots of one droplet.
    pub async fn droplet_snapshots(
        &self,
        droplet_id: u64,
    ) -> Result<Vec<DropletSnapshot>, CloudError> {
        let request = ApiRequest::get(
            format!("/v2/droplets/{droplet_id}/snapshots"),
            "droplet:read",
        );
        self.list_all(request, "snapshots").await
    }

    /// Lists every snapshot on the account, of `resource_type` (`droplet` or
    /// `volume`) when given.
    pub async fn snapshots(
        &self,
        resource_type: Option<&str>,
    ) -> Result<Vec<Snapshot>, CloudError> {
        let mut request = ApiRequest::get("/v2/snapshots", "snapshot:read");
        if let Some(kind) = resource_type {
            request = request.query("resource_type", kind);
        }
        self.list_all(request, "snapshots").await
    }

    /// Delete a snapshot by the id the run recorded; 404 is [`Deletion::AlreadyGone`].
    pub async fn delete_snapshot(&self, snapshot_id: &str) -> Result<Deletion, CloudError> {
        let path = format!("/v2/snapshots/{}", segment(snapshot_id));
        let request = ApiRequest::new(reqwest::Method::DELETE, path, "snapshot:delete");
        self.delete(&request).await
    }
}
