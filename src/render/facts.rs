//! The values templates need besides the inventory: the droplets' addresses
//! and the database passwords, known only once the servers exist.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use crate::inventory::Inventory;
use crate::render::error::RenderError;
use crate::secret::Secret;

/// First host number of the placeholder addresses in 192.0.2.0/24.
const PLACEHOLDER_FIRST_HOST: usize = 10;
/// Last host number of the placeholder addresses.
const PLACEHOLDER_LAST_HOST: usize = 254;

/// The password `wwctl render` writes into `config.json`. It is a fixed,
/// public placeholder, never a real secret.
pub const PLACEHOLDER_PASSWORD: &str = "placeholder-password-not-a-secret";

/// The droplets' IPv4 addresses, by droplet name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Facts {
    public: BTreeMap<String, Ipv4Addr>,
    private: BTreeMap<String, Ipv4Addr>,
}

impl Facts {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with_public_address(mut self, droplet: impl Into<String>, address: Ipv4Addr) -> Self {
        self.public.insert(droplet.into(), address);
        self
    }

    /// Adds the droplet's address on the VPC, used between droplets when known.
    pub fn with_private_address(mut self, droplet: impl Into<String>, address: Ipv4Addr) -> Self {
        self.private.insert(droplet.into(), address);
        self
    }

    /// Stable stand-in addresses for offline rendering, from 192.0.2.0/24
    /// (TEST-NET-1, RFC 5737, which is never routed): 192.0.2.10 for the
    /// first droplet of the inventory, then one up per droplet in inventory
    /// order across all fleets. There are no private addresses.
    pub fn placeholder(inventory: &Inventory) -> Result<Self, RenderError> {
        let names: Vec<&String> = inventory
            .fleets
            .values()
            .flat_map(|fleet| fleet.droplets.keys())
            .collect();
        let max = PLACEHOLDER_LAST_HOST - PLACEHOLDER_FIRST_HOST + 1;
        if names.len() > max {
            return Err(RenderError::TooManyPlaceholders {
                count: names.len(),
                max,
            });
        }

        let mut facts = Facts::new();
        for (index, name) in names.into_iter().enumerate() {
            let host = u8::try_from(PLACEHOLDER_FIRST_HOST + index).unwrap_or(u8::MAX);
            facts = facts.with_public_address(name.clone(), Ipv4Addr::new(192, 0, 2, host));
        }
        Ok(facts)
    }

    pub fn public_address(&self, droplet: &str) -> Result<Ipv4Addr, RenderError> {
        self.public
            .get(droplet)
            .copied()
            .ok_or_else(|| RenderError::MissingAddress {
                droplet: droplet.to_string(),
            })
    }

    /// Returns the address other droplets reach this one on: the private
    /// address when known, the public one otherwise.
    pub fn peer_address(&self, droplet: &str) -> Result<Ipv4Addr, RenderError> {
        match self.private.get(droplet) {
            Some(address) => Ok(*address),
            None => self.public_address(droplet),
        }
    }
}

/// Passwords of the database users, by user name.
#[derive(Clone, Debug, Default)]
pub struct Secrets {
    database_passwords: BTreeMap<String, Secret>,
}

impl Secrets {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with_database_password(mut self, user: impl Into<String>, password: Secret) -> Self {
        self.database_passwords.insert(user.into(), password);
        self
    }

    /// [`PLACEHOLDER_PASSWORD`] for every database user of the inventory.
    pub fn placeholder(inventory: &Inventory) -> Self {
        let mut secrets = Secrets::new();
        for user in inventory.database.users.keys() {
            secrets =
                secrets.with_database_password(user.clone(), Secret::new(PLACEHOLDER_PASSWORD));
        }
        secrets
    }

    pub fn database_password(&self, user: &str) -> Result<&Secret, RenderError> {
        self.database_passwords
            .get(user)
            .ok_or_else(|| RenderError::MissingPassword {
                user: user.to_string(),
            })
    }
}
