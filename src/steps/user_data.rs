//! The cloud-init user data a new droplet boots with: its pinned host key
//! and the packages its roles need, rendered by the templates.

use crate::inventory::{Droplet, Inventory};
use crate::remote::host_keys::{self, HostKeyPair};
use crate::render::{self, CloudInitKeys, HostKey};
use crate::secret::Secret;

/// Render the user data for `droplet` with its host key. The result contains
/// the private host key, so it is a secret.
pub fn render(
    inventory: &Inventory,
    droplet: &Droplet,
    key_pair: &HostKeyPair,
) -> anyhow::Result<Secret> {
    let keys = CloudInitKeys {
        root_keys: Vec::new(),
        host_key: Some(HostKey {
            public: host_keys::public_line(&key_pair.public),
            private: key_pair.private_openssh.clone(),
        }),
    };
    let rendered = render::user_data(inventory, &droplet.fleet, &droplet.name, &keys)?;
    Ok(Secret::new(rendered.contents.expose()))
}
