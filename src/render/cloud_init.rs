//! cloud-init user data for a new droplet: its users, root's SSH keys, a
//! pinned host key and the packages its roles need.

use minijinja::Value;
use serde::Serialize;

use crate::inventory::Role;
use crate::render::engine::{self, SecretValue};
use crate::render::error::RenderError;
use crate::render::file::Contents;
use crate::render::host::Host;
use crate::secret::Secret;

/// DigitalOcean's limit on a droplet's user data, in bytes.
pub const USER_DATA_LIMIT: usize = 64 * 1024;

/// Packages per role, in install order. A package needed by several roles
/// is installed once.
const PACKAGES: [(Role, &[&str]); 3] = [
    (Role::Proxy, &["nginx"]),
    (Role::App, &["nginx", "git", "python3-venv"]),
    (
        Role::Database,
        &["mariadb-server", "mariadb-client", "zstd"],
    ),
];

/// An ed25519 host key pair for the new droplet.
#[derive(Clone, Debug)]
pub struct HostKey {
    /// `ssh-ed25519 AAAA… comment`.
    pub public: String,
    /// The OpenSSH private key file's text.
    pub private: Secret,
}

/// The keys that go into the user data.
#[derive(Clone, Debug, Default)]
pub struct CloudInitKeys {
    /// Public keys for root's `authorized_keys`, one `type base64 comment` each.
    pub root_keys: Vec<String>,
    pub host_key: Option<HostKey>,
}

/// Rendered user data. It is secret when it carries a private host key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserData {
    pub contents: Contents,
}

impl UserData {
    pub fn is_secret(&self) -> bool {
        self.contents.is_secret()
    }

    pub fn len(&self) -> usize {
        self.contents.len()
    }

    pub fn is_empty(&self) -> bool {
        self.contents.is_empty()
    }
}

#[derive(Serialize)]
struct UserDataContext {
    droplet: String,
    fleet: String,
    root_keys: Vec<String>,
    app_users: Vec<String>,
    host_key: Option<HostKeyContext>,
    packages: Vec<&'static str>,
}

#[derive(Serialize)]
struct HostKeyContext {
    public: String,
    private: Value,
}

pub fn user_data(host: &Host<'_>, keys: &CloudInitKeys) -> Result<UserData, RenderError> {
    let context = UserDataContext {
        droplet: host.droplet.name.clone(),
        fleet: host.fleet.name.clone(),
        root_keys: keys.root_keys.clone(),
        app_users: app_users(host),
        host_key: keys.host_key.as_ref().map(|key| HostKeyContext {
            public: key.public.clone(),
            private: SecretValue::value(&key.private),
        }),
        packages: packages(&host.droplet.roles),
    };
    let text = engine::render("cloud-init/user-data.yaml.j2", &context)?;

    if text.len() > USER_DATA_LIMIT {
        return Err(RenderError::UserDataTooLarge {
            droplet: host.droplet.name.clone(),
            size: text.len(),
            limit: USER_DATA_LIMIT,
        });
    }
    let contents = if keys.host_key.is_some() {
        Contents::Secret(Secret::new(text))
    } else {
        Contents::Text(text)
    };
    Ok(UserData { contents })
}

/// Lists the Unix users the droplet's apps run as, once each.
fn app_users(host: &Host<'_>) -> Vec<String> {
    if !host.droplet.has_role(Role::App) {
        return Vec::new();
    }
    let mut users: Vec<String> = Vec::new();
    for app in &host.apps {
        if !users.contains(&app.user) {
            users.push(app.user.clone());
        }
    }
    users
}

fn packages(roles: &[Role]) -> Vec<&'static str> {
    let mut packages: Vec<&'static str> = Vec::new();
    for (role, names) in PACKAGES {
        if !roles.contains(&role) {
            continue;
        }
        for name in names {
            if !packages.contains(name) {
                packages.push(name);
            }
        }
    }
    packages
}
