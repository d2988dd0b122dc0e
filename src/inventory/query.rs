//! Questions later stages ask of a loaded inventory.

use crate::error::UserError;
use crate::inventory::model::{Droplet, Fleet, Inventory, Record, RecordTarget, Role, Zone};
use crate::suggest;

/// What a `provision` argument names: a whole fleet, or one environment of
/// the current fleet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FleetSelector {
    Fleet(String),
    Env { fleet: String, env: String },
}

impl FleetSelector {
    pub fn fleet(&self) -> &str {
        match self {
            FleetSelector::Fleet(fleet) | FleetSelector::Env { fleet, .. } => fleet,
        }
    }

    pub fn env(&self) -> Option<&str> {
        match self {
            FleetSelector::Fleet(_) => None,
            FleetSelector::Env { env, .. } => Some(env),
        }
    }
}

impl Inventory {
    /// The fleet a command-line name or alias refers to.
    pub fn fleet(&self, name: &str) -> Result<&Fleet, UserError> {
        let resolved = self.project.aliases.get(name).map_or(name, String::as_str);
        self.fleets.get(resolved).ok_or_else(|| {
            let candidates = self
                .fleets
                .keys()
                .chain(self.project.aliases.keys())
                .map(String::as_str);
            UserError::usage(format!("unknown fleet `{name}`"))
                .with_hint(suggest::hint_for(name, candidates))
        })
    }

    /// Resolve a `provision` argument: an environment (of the current fleet),
    /// a fleet, or a fleet alias.
    pub fn selector(&self, name: &str) -> Result<FleetSelector, UserError> {
        if self.environments.contains_key(name) {
            return Ok(FleetSelector::Env {
                fleet: self.project.current_fleet.clone(),
                env: name.to_string(),
            });
        }
        if let Ok(fleet) = self.fleet(name) {
            return Ok(FleetSelector::Fleet(fleet.name.clone()));
        }

        let candidates = self
            .environments
            .keys()
            .chain(self.fleets.keys())
            .chain(self.project.aliases.keys())
            .map(String::as_str);
        Err(
            UserError::usage(format!("unknown environment or fleet `{name}`"))
                .with_hint(suggest::hint_for(name, candidates)),
        )
    }

    pub fn find_droplet(&self, name: &str) -> Option<&Droplet> {
        self.fleets
            .values()
            .find_map(|fleet| fleet.droplets.get(name))
    }

    /// Droplets of `fleet`, limited to environment `env` when given, in
    /// inventory order.
    pub fn droplets(&self, fleet: &str, env: Option<&str>) -> Vec<&Droplet> {
        self.fleets
            .get(fleet)
            .map(|fleet| {
                fleet
                    .droplets
                    .values()
                    .filter(|droplet| env.is_none_or(|env| droplet.env == env))
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn droplets_with_role(&self, fleet: &str, env: &str, role: Role) -> Vec<&Droplet> {
        self.droplets(fleet, Some(env))
            .into_iter()
            .filter(|droplet| droplet.has_role(role))
            .collect()
    }

    /// The droplet an environment's DNS records point at: its proxy.
    pub fn entry_droplet(&self, fleet: &str, env: &str) -> Option<&Droplet> {
        self.droplets_with_role(fleet, env, Role::Proxy)
            .into_iter()
            .next()
    }

    pub fn database_droplet(&self, fleet: &str, env: &str) -> Option<&Droplet> {
        self.droplets_with_role(fleet, env, Role::Database)
            .into_iter()
            .next()
    }

    /// Environments with at least one droplet in `fleet`, in inventory order.
    pub fn environments_of(&self, fleet: &str) -> Vec<String> {
        let mut envs: Vec<String> = Vec::new();
        for droplet in self.droplets(fleet, None) {
            if !envs.contains(&droplet.env) {
                envs.push(droplet.env.clone());
            }
        }
        envs
    }

    /// The managed zone containing `domain`, and the name relative to it
    /// (`@` for the apex). The longest matching zone wins.
    pub fn zone_for(&self, domain: &str) -> Option<(&Zone, String)> {
        let domain = domain.trim_end_matches('.').to_lowercase();
        self.dns
            .zones
            .values()
            .filter_map(|zone| relative_name(&domain, &zone.name).map(|relative| (zone, relative)))
            .max_by_key(|(zone, _)| zone.name.len())
    }

    /// The droplet a record points at when `fleet` serves the record's
    /// environment.
    pub fn record_droplet(&self, record: &Record, fleet: &str) -> Option<&Droplet> {
        match &record.target {
            RecordTarget::Env(env) => self.entry_droplet(fleet, env),
            RecordTarget::Droplet(name) => self.find_droplet(name),
        }
    }

    /// The environment a record follows, when it follows one.
    pub fn record_env<'a>(&'a self, record: &'a Record) -> Option<&'a str> {
        match &record.target {
            RecordTarget::Env(env) => Some(env),
            RecordTarget::Droplet(name) => {
                self.find_droplet(name).map(|droplet| droplet.env.as_str())
            }
        }
    }
}

/// `domain` relative to `zone`: `@` for the apex, the leading labels
/// otherwise, `None` outside the zone.
pub fn relative_name(domain: &str, zone: &str) -> Option<String> {
    let domain = domain.trim_end_matches('.');
    if domain.eq_ignore_ascii_case(zone) {
        return Some("@".to_string());
    }
    let prefix = domain.strip_suffix(zone)?.strip_suffix('.')?;
    (!prefix.is_empty()).then(|| prefix.to_string())
}

#[cfg(test)]
mod tests {
    use super::relative_name;

    #[test]
    fn relative_name_of_apex_is_at() {
        assert_eq!(relative_name("wwdt.me", "wwdt.me").as_deref(), Some("@"));
        assert_eq!(relative_name("wwdt.me.", "wwdt.me").as_deref(), Some("@"));
    }

    #[test]
    fn relative_name_of_subdomain() {
        assert_eq!(
            relative_name("stats.staging.wwdt.me", "wwdt.me").as_deref(),
            Some("stats.staging")
        );
    }

    #[test]
    fn relative_name_outside_zone() {
        assert_eq!(relative_name("notwwdt.me", "wwdt.me"), None);
        assert_eq!(relative_name("example.com", "wwdt.me"), None);
    }
}
