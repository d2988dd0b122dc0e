//! The validated inventory: every reference resolved, every default applied.

use std::path::PathBuf;
use std::time::Duration;

use indexmap::IndexMap;
use serde::Serialize;

use crate::database::compression::Compression;
use crate::diagnostic::SourceRef;

#[derive(Clone, Debug, Serialize)]
pub struct Inventory {
    pub dir: PathBuf,
    pub overlay: Option<String>,
    pub project: Project,
    pub environments: IndexMap<String, Environment>,
    pub fleets: IndexMap<String, Fleet>,
    pub apps: IndexMap<String, App>,
    pub sites: IndexMap<String, Site>,
    pub dns: Dns,
    pub database: Database,
    pub tls: Tls,
    pub cloud: CloudSettings,
}

/// Where an entity was defined, for errors found after loading.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Origin {
    pub at: SourceRef,
    pub key_path: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct Project {
    pub name: String,
    pub region: String,
    pub image: String,
    /// Names of SSH keys registered on the DigitalOcean account.
    pub ssh_keys: Vec<String>,
    pub current_fleet: String,
    /// Alternative fleet names accepted on the command line, such as `old-fleet`.
    pub aliases: IndexMap<String, String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Environment {
    pub name: String,
    /// Git branch or tag the apps of this environment run.
    pub git_ref: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct Fleet {
    pub name: String,
    pub description: String,
    pub droplets: IndexMap<String, Droplet>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// NGINX caching reverse proxy that terminates HTTPS.
    Proxy,
    /// The four apps under Gunicorn, behind their own NGINX when no proxy shares the host.
    App,
    /// The MySQL or MariaDB server.
    Database,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Proxy, Role::App, Role::Database];

    pub fn name(self) -> &'static str {
        match self {
            Role::Proxy => "proxy",
            Role::App => "app",
            Role::Database => "database",
        }
    }

    pub fn parse(text: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|role| role.name() == text)
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct Droplet {
    pub name: String,
    pub fleet: String,
    pub env: String,
    pub roles: Vec<Role>,
    pub size: String,
    pub memory_mb: u64,
    pub region: String,
    pub image: String,
    /// Extra tags besides the ones wwctl adds for ownership.
    pub tags: Vec<String>,
    /// Id of an existing droplet that wwctl adopts instead of creating.
    pub adopt_id: Option<u64>,
    /// Public host keys of an existing server, `type base64` each.
    pub host_keys: Vec<String>,
    pub login_user: String,
    pub origin: Origin,
}

impl Droplet {
    pub fn has_role(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct App {
    pub name: String,
    pub repo: String,
    pub framework: String,
    /// Directory of the checkout on the server.
    pub path: String,
    /// Unix user the service runs as.
    pub user: String,
    /// systemd unit name without `.service`, such as `gunicorn-wwdtmstats`.
    pub service: String,
    /// Unix socket Gunicorn binds and NGINX proxies to.
    pub socket: String,
    /// WSGI or ASGI application Gunicorn loads, such as `app:create_app()`.
    pub entry: String,
    pub worker_class: String,
    pub workers: u64,
    pub database_user: String,
    pub health_path: String,
    pub origin: Origin,
}

#[derive(Clone, Debug, Serialize)]
pub struct Site {
    pub name: String,
    pub app: String,
    /// Host name per environment, such as `prod: stats.wwdt.me`.
    pub domains: IndexMap<String, String>,
    /// Extra names that redirect to the site, in production only.
    pub aliases: Vec<String>,
    pub cache: Cache,
    pub check: SiteCheck,
    pub origin: Origin,
}

#[derive(Clone, Debug, Serialize)]
pub struct Cache {
    pub enabled: bool,
    /// How long NGINX keeps a 200 response, such as `10m`.
    pub valid: String,
    pub inactive: String,
    pub max_size: String,
    pub zone_size: String,
    /// Path regular expressions NGINX must never cache (the `random` routes).
    pub no_cache: Vec<String>,
}

/// The request that proves a site serves the migrated data.
#[derive(Clone, Debug, Serialize)]
pub struct SiteCheck {
    pub path: String,
    /// Text the response body must contain; empty means any 200 response.
    pub expect: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct Dns {
    pub zones: IndexMap<String, Zone>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Zone {
    pub name: String,
    /// Normal TTL of the managed records, seconds.
    pub ttl: u32,
    /// TTL while a move is under way, seconds; at least 30.
    pub cutover_ttl: u32,
    /// Time added to the old TTL before old servers may be turned off.
    #[serde(with = "duration_seconds")]
    pub drain_margin: Duration,
    pub records: Vec<Record>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Record {
    /// Name relative to the zone; `@` is the apex.
    pub name: String,
    pub record_type: String,
    pub target: RecordTarget,
    pub ttl: Option<u32>,
    pub origin: Origin,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RecordTarget {
    /// The public entry droplet of an environment in the fleet that serves it.
    Env(String),
    /// One named droplet.
    Droplet(String),
}

#[derive(Clone, Debug, Serialize)]
pub struct Database {
    pub name: String,
    pub charset: String,
    pub collation: String,
    pub max_connections: u64,
    pub sql_mode: String,
    pub users: IndexMap<String, DatabaseUser>,
    pub seed: Option<Seed>,
    pub sync: SyncSettings,
}

#[derive(Clone, Debug, Serialize)]
pub struct DatabaseUser {
    pub name: String,
    pub privileges: Vec<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Seed {
    pub scale: u64,
    pub seed: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SyncSettings {
    /// `dump` (one stream) or `parallel` (per-table streams).
    pub method: String,
    pub parallel: u64,
    /// When the streams travel zstd-compressed: `auto` (the default)
    /// compresses each hop that a timed transfer finds slower than 50 MB/s.
    pub compress: Compression,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Issuer {
    /// Certificates already on the servers that serve the sites now.
    Existing,
    /// Certificates signed by the sandbox's own certificate authority.
    Sandbox,
}

#[derive(Clone, Debug, Serialize)]
pub struct Tls {
    pub issuer: Issuer,
    /// Directory on the servers holding `<domain>.crt` and `<domain>.key`.
    pub dir: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct CloudSettings {
    #[serde(with = "duration_seconds")]
    pub poll_interval: Duration,
    #[serde(with = "duration_seconds")]
    pub ready_timeout: Duration,
    #[serde(with = "duration_seconds")]
    pub shutdown_timeout: Duration,
}

mod duration_seconds {
    use std::time::Duration;

    pub fn serialize<S: serde::Serializer>(
        value: &Duration,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.serialize_f64(value.as_secs_f64())
    }
}
