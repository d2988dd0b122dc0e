//! The sites and apps one droplet serves, and where its NGINX sends
//! requests, derived from its roles.

use crate::inventory::{App, Droplet, Fleet, Inventory, Role, Site};
use crate::render::error::RenderError;
use crate::render::invariants;

/// The NGINX a droplet runs, from its roles.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NginxRole {
    /// Role `proxy`: terminates HTTPS, caches, redirects the aliases. With
    /// role `app` as well it proxies to local sockets (the all-in-one).
    Edge,
    /// Role `app` without `proxy`: plain HTTP on port 80 behind the
    /// environment's proxy, one server block per site, no cache.
    Backend,
}

/// A droplet with the inventory entries it serves, checked for the
/// invariants the templates rely on.
pub struct Host<'a> {
    pub inventory: &'a Inventory,
    pub fleet: &'a Fleet,
    pub droplet: &'a Droplet,
    /// Sites with a domain in the droplet's environment, with their apps.
    pub sites: Vec<(&'a Site, &'a App)>,
    /// The apps of those sites, once each, in inventory order.
    pub apps: Vec<&'a App>,
}

impl<'a> Host<'a> {
    pub fn new(inventory: &'a Inventory, fleet: &str, droplet: &str) -> Result<Self, RenderError> {
        let fleet = inventory
            .fleet(fleet)
            .map_err(|error| RenderError::UnknownFleet {
                fleet: fleet.to_string(),
                hint: error.hint.unwrap_or_default(),
            })?;
        let droplet = fleet
            .droplets
            .get(droplet)
            .ok_or_else(|| RenderError::UnknownDroplet {
                fleet: fleet.name.clone(),
                droplet: droplet.to_string(),
                hint: crate::suggest::hint_for(droplet, fleet.droplets.keys().map(String::as_str)),
            })?;
        invariants::check_droplet(droplet)?;
        invariants::check_database(&inventory.database)?;

        let mut sites = Vec::new();
        for site in inventory.sites.values() {
            let app = invariants::check_site(inventory, site)?;
            if site.domains.contains_key(&droplet.env) {
                invariants::check_app(app)?;
                sites.push((site, app));
            }
        }
        let apps = inventory
            .apps
            .values()
            .filter(|app| sites.iter().any(|(_, used)| used.name == app.name))
            .collect();

        Ok(Host {
            inventory,
            fleet,
            droplet,
            sites,
            apps,
        })
    }

    pub fn nginx_role(&self) -> Option<NginxRole> {
        if self.droplet.has_role(Role::Proxy) {
            Some(NginxRole::Edge)
        } else if self.droplet.has_role(Role::App) {
            Some(NginxRole::Backend)
        } else {
            None
        }
    }

    /// Returns the site's domain in this droplet's environment.
    pub fn domain(&self, site: &Site) -> String {
        site.domains
            .get(&self.droplet.env)
            .cloned()
            .unwrap_or_default()
    }

    /// Returns the names that redirect to the site: production only.
    pub fn aliases(&self, site: &'a Site) -> &'a [String] {
        if self.droplet.env == "prod" {
            &site.aliases
        } else {
            &[]
        }
    }

    /// Lists the other droplets of this environment with role `role`.
    pub fn peers_with_role(&self, role: Role) -> Vec<&'a Droplet> {
        self.inventory
            .droplets_with_role(&self.fleet.name, &self.droplet.env, role)
            .into_iter()
            .filter(|peer| peer.name != self.droplet.name)
            .collect()
    }

    /// Returns the droplet serving this environment's database.
    pub fn database_droplet(&self) -> Option<&'a Droplet> {
        self.inventory
            .database_droplet(&self.fleet.name, &self.droplet.env)
    }
}
