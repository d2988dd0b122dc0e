//! The inventory as written in YAML, before validation.
//!
//! Every field is optional here, so one set of types reads both the base
//! files and an overlay that changes a few values. Required keys are checked
//! when the layers are resolved into the model.

use serde::Deserialize;

use crate::yaml::{KeyedMap, Spanned};

/// One inventory file. A section may appear in only one base file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawInventory {
    pub project: Option<Spanned<RawProject>>,
    pub environments: Option<Spanned<KeyedMap<RawEnvironment>>>,
    pub fleets: Option<Spanned<KeyedMap<RawFleet>>>,
    pub apps: Option<Spanned<KeyedMap<RawApp>>>,
    pub sites: Option<Spanned<KeyedMap<RawSite>>>,
    pub dns: Option<Spanned<RawDns>>,
    pub database: Option<Spanned<RawDatabase>>,
    pub tls: Option<Spanned<RawTls>>,
    pub cloud: Option<Spanned<RawCloud>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawProject {
    pub name: Option<Spanned<String>>,
    pub region: Option<Spanned<String>>,
    pub image: Option<Spanned<String>>,
    pub ssh_keys: Option<Spanned<Vec<Spanned<String>>>>,
    pub current_fleet: Option<Spanned<String>>,
    pub aliases: Option<KeyedMap<Spanned<String>>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEnvironment {
    pub git_ref: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFleet {
    pub description: Option<Spanned<String>>,
    pub droplets: Option<KeyedMap<RawDroplet>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDroplet {
    pub env: Option<Spanned<String>>,
    pub roles: Option<Spanned<Vec<Spanned<String>>>>,
    pub size: Option<Spanned<String>>,
    pub memory_mb: Option<Spanned<u64>>,
    pub region: Option<Spanned<String>>,
    pub image: Option<Spanned<String>>,
    pub tags: Option<Spanned<Vec<Spanned<String>>>>,
    /// Droplet id of an existing server that wwctl adopts instead of creating.
    pub id: Option<Spanned<u64>>,
    /// Public SSH host keys of an existing server, one `type base64` per entry.
    pub host_keys: Option<Spanned<Vec<Spanned<String>>>>,
    pub login_user: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawApp {
    pub repo: Option<Spanned<String>>,
    pub framework: Option<Spanned<String>>,
    pub path: Option<Spanned<String>>,
    pub user: Option<Spanned<String>>,
    pub service: Option<Spanned<String>>,
    pub socket: Option<Spanned<String>>,
    pub entry: Option<Spanned<String>>,
    pub worker_class: Option<Spanned<String>>,
    pub workers: Option<Spanned<u64>>,
    pub database_user: Option<Spanned<String>>,
    pub health_path: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSite {
    pub app: Option<Spanned<String>>,
    pub domains: Option<KeyedMap<Spanned<String>>>,
    pub aliases: Option<Spanned<Vec<Spanned<String>>>>,
    pub cache: Option<Spanned<RawCache>>,
    pub check: Option<Spanned<RawCheck>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCache {
    pub enabled: Option<Spanned<bool>>,
    pub valid: Option<Spanned<String>>,
    pub inactive: Option<Spanned<String>>,
    pub max_size: Option<Spanned<String>>,
    pub zone_size: Option<Spanned<String>>,
    pub no_cache: Option<Spanned<Vec<Spanned<String>>>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCheck {
    pub path: Option<Spanned<String>>,
    pub expect: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDns {
    pub zones: Option<KeyedMap<RawZone>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawZone {
    pub ttl: Option<Spanned<i64>>,
    pub cutover_ttl: Option<Spanned<i64>>,
    pub drain_margin: Option<Spanned<String>>,
    pub records: Option<KeyedMap<RawRecord>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRecord {
    #[serde(rename = "type")]
    pub record_type: Option<Spanned<String>>,
    pub points_to: Option<Spanned<RawRecordTarget>>,
    pub ttl: Option<Spanned<i64>>,
}

/// Where an address record points: the public entry of an environment in
/// the fleet that serves it, or one named droplet.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRecordTarget {
    pub env: Option<Spanned<String>>,
    pub droplet: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDatabase {
    pub name: Option<Spanned<String>>,
    pub charset: Option<Spanned<String>>,
    pub collation: Option<Spanned<String>>,
    pub max_connections: Option<Spanned<u64>>,
    pub sql_mode: Option<Spanned<String>>,
    pub users: Option<KeyedMap<RawDatabaseUser>>,
    pub seed: Option<Spanned<RawSeed>>,
    pub sync: Option<Spanned<RawSync>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDatabaseUser {
    pub privileges: Option<Spanned<Vec<Spanned<String>>>>,
}

/// Generated test data loaded into a new database server. Only the sandbox
/// overlay sets it: production data is never generated.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSeed {
    pub scale: Option<Spanned<u64>>,
    pub seed: Option<Spanned<u64>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSync {
    pub method: Option<Spanned<String>>,
    pub parallel: Option<Spanned<u64>>,
    pub compress: Option<Spanned<RawCompress>>,
}

/// `database.sync.compress`: `auto`, `true` or `false`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RawCompress {
    Auto,
    Always,
    Never,
}

impl<'de> Deserialize<'de> for RawCompress {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(CompressVisitor)
    }
}

struct CompressVisitor;

impl serde::de::Visitor<'_> for CompressVisitor {
    type Value = RawCompress;

    fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
        formatter.write_str("`auto`, `true` or `false`")
    }

    fn visit_bool<E: serde::de::Error>(self, value: bool) -> Result<RawCompress, E> {
        Ok(if value {
            RawCompress::Always
        } else {
            RawCompress::Never
        })
    }

    fn visit_str<E: serde::de::Error>(self, value: &str) -> Result<RawCompress, E> {
        match value {
            "auto" => Ok(RawCompress::Auto),
            "true" => Ok(RawCompress::Always),
            "false" => Ok(RawCompress::Never),
            other => Err(E::invalid_value(serde::de::Unexpected::Str(other), &self)),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTls {
    pub issuer: Option<Spanned<String>>,
    pub dir: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCloud {
    pub poll_interval: Option<Spanned<String>>,
    pub ready_timeout: Option<Spanned<String>>,
    pub shutdown_timeout: Option<Spanned<String>>,
}
