//! Cloud firewalls.

use serde::Deserialize;

use crate::cloud::client::{ApiRequest, CloudClient, segment};
use crate::cloud::droplets::Deletion;
use crate::cloud::error::CloudError;
use crate::cloud::models::{Firewall, FirewallSpec};

#[derive(Deserialize)]
struct FirewallBody {
    firewall: Firewall,
}

impl CloudClient {
    pub async fn create_firewall(&self, spec: &FirewallSpec) -> Result<Firewall, CloudError> {
        let request = ApiRequest::new(reqwest::Method::POST, "/v2/firewalls", "firewall:create")
            .json(spec)?;
        let body: FirewallBody = self.fetch(&request).await?;
        Ok(body.firewall)
    }

    pub async fn firewall(&self, firewall_id: &str) -> Result<Firewall, CloudError> {
        let request = ApiRequest::get(
            format!("/v2/firewalls/{}", segment(firewall_id)),
            "firewall:read",
        );
        let body: FirewallBody = self.fetch(&request).await?;
        Ok(body.firewall)
    }

    pub async fn firewalls(&self) -> Result<Vec<Firewall>, CloudError> {
        let request = ApiRequest::get("/v2/firewalls", "firewall:read");
        self.list_all(request, "firewalls").await
    }

    /// Replace the firewall with `spec`: rules, droplets and tags that
    /// `spec` leaves out are removed.
    pub async fn update_firewall(
        &self,
        firewall_id: &str,
        spec: &FirewallSpec,
    ) -> Result<Firewall, CloudError> {
        let path = format!("/v2/firewalls/{}", segment(firewall_id));
        let request = ApiRequest::new(reqwest::Method::PUT, path, "firewall:update").json(spec)?;
        let body: FirewallBody = self.fetch(&request).await?;
        Ok(body.firewall)
    }

    /// Delete a firewall by the id the run recorded; 404 is [`Deletion::AlreadyGone`].
    pub async fn delete_firewall(&self, firewall_id: &str) -> Result<Deletion, CloudError> {
        let path = format!("/v2/firewalls/{}", segment(firewall_id));
        let request = ApiRequest::new(reqwest::Method::DELETE, path, "firewall:delete");
        self.delete(&request).await
    }
}
