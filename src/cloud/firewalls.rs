//! Cloud firewalls.

use serde::Deserialize;

use crate::cloud::client::{ApiRequest, ApiResponse, CloudClient, segment};
use crate::cloud::droplets::Deletion;
use crate::cloud::error::CloudError;
use crate::cloud::models::{Firewall, FirewallSpec};

#[derive(Deserialize)]
struct FirewallBody {
    firewall: Firewall,
}

impl CloudClient {
    /// Create the firewall `spec`. After an ambiguous failure, a firewall
    /// with the same name is adopted; two or more with that name fail with
    /// [`CloudError::Ambiguous`] inside [`CloudError::Unconfirmed`].
    // NOTE: the adopted firewall's rules are not compared with `spec`, so a
    // firewall of that name made outside the run would be taken as this one.
    pub async fn create_firewall(&self, spec: &FirewallSpec) -> Result<Firewall, CloudError> {
        let request = ApiRequest::new(reqwest::Method::POST, "/v2/firewalls", "firewall:create")
            .json(spec)?;

        let object = format!("firewall `{}`", spec.name);
        let parse = |response: ApiResponse| Ok(response.json::<FirewallBody>()?.firewall);
        self.post_or_adopt(&request, &object, parse, || self.firewall_named(&spec.name))
            .await
    }

    /// Returns the one firewall named `name`, if any. Names are not unique
    /// on the API, so two or more are an ambiguity error.
    pub async fn firewall_named(&self, name: &str) -> Result<Option<Firewall>, CloudError> {
        let named: Vec<Firewall> = self
            .firewalls()
            .await?
            .into_iter()
            .filter(|firewall| firewall.name == name)
            .collect();
        if named.len() > 1 {
            return Err(CloudError::Ambiguous {
                what: "firewalls",
                name: name.to_string(),
                count: named.len(),
                ids: named.iter().map(|firewall| firewall.id.clone()).collect(),
                hint: "delete the extra firewall in the control panel, then rerun",
            });
        }
        Ok(named.into_iter().next())
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
