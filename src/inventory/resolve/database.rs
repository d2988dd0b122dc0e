//! The database, TLS and cloud settings sections.

use std::time::Duration;

use indexmap::IndexMap;

use crate::database::compression::Compression;
use crate::inventory::layers::{Found, Layers};
use crate::inventory::model::{
    CloudSettings, Database, DatabaseUser, Issuer, Seed, SyncSettings, Tls,
};
use crate::inventory::raw::{RawCompress, RawInventory};

use super::Ctx;

/// Privileges wwctl grants to app users; anything else would need a review.
const PRIVILEGES: [&str; 6] = [
    "SELECT",
    "INSERT",
    "UPDATE",
    "DELETE",
    "EXECUTE",
    "SHOW VIEW",
];
const SYNC_METHODS: [&str; 2] = ["dump", "parallel"];
const ISSUERS: [&str; 2] = ["existing", "sandbox"];

/// Identifiers MySQL accepts unquoted and wwctl can safely put in SQL text.
fn is_sql_identifier(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 32
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.chars().all(|c| c.is_ascii_digit())
}

fn text_or(found: Option<Found<'_, String>>, default: &str) -> String {
    found
        .map(|found| found.value.clone())
        .unwrap_or_else(|| default.to_string())
}

pub(super) fn resolve_database(ctx: &mut Ctx<'_>, root: &Layers<'_, RawInventory>) -> Database {
    let layers = root.spanned_child("database", |raw| raw.database.as_ref());
    if layers.is_empty() {
        ctx.report_with_hint(
            root.origin.clone(),
            "database",
            "no inventory file in this folder defines the required section `database`",
            "add `database.yaml` to the inventory folder with a `database:` section holding its `name` and `users`",
        );
    }

    let name = match ctx.required(&layers, "name", |raw| raw.name.as_ref()) {
        Some(found) => {
            check_identifier(ctx, &found, "database name");
            found.value.clone()
        }
        None => String::new(),
    };

    let mut users = IndexMap::new();
    for entry in layers.entries("users", |raw| raw.users.as_ref(), ctx.diagnostics) {
        if !is_sql_identifier(entry.key) {
            ctx.report_with_hint(
                entry.layers.origin.clone(),
                entry.layers.key_path.clone(),
                format!("invalid database user name `{}`", entry.key),
                "use letters, digits and `_`, at most 32 characters",
            );
        }
        let privileges = resolve_privileges(ctx, &entry.layers);
        users.insert(
            entry.key.to_string(),
            DatabaseUser {
                name: entry.key.to_string(),
                privileges,
            },
        );
    }

    let seed_layers = layers.spanned_child("seed", |raw| raw.seed.as_ref());
    let seed = (!seed_layers.is_empty()).then(|| Seed {
        scale: seed_layers
            .field("scale", |raw| raw.scale.as_ref())
            .map_or(1, |found| *found.value)
            .max(1),
        seed: seed_layers
            .field("seed", |raw| raw.seed.as_ref())
            .map_or(1, |found| *found.value),
    });

    let sync_layers = layers.spanned_child("sync", |raw| raw.sync.as_ref());
    let method = match sync_layers.field("method", |raw| raw.method.as_ref()) {
        Some(found) => {
            ctx.check_choice(&found, "sync method", &SYNC_METHODS);
            found.value.clone()
        }
        None => "parallel".to_string(),
    };

    Database {
        name,
        charset: text_or(
            layers.field("charset", |raw| raw.charset.as_ref()),
            "utf8mb4",
        ),
        collation: text_or(
            layers.field("collation", |raw| raw.collation.as_ref()),
            "utf8mb4_unicode_ci",
        ),
        max_connections: layers
            .field("max_connections", |raw| raw.max_connections.as_ref())
            .map_or(151, |found| *found.value),
        sql_mode: text_or(
            layers.field("sql_mode", |raw| raw.sql_mode.as_ref()),
            "STRICT_TRANS_TABLES,NO_ZERO_IN_DATE,NO_ZERO_DATE,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION",
        ),
        users,
        seed,
        sync: SyncSettings {
            method,
            parallel: sync_layers
                .field("parallel", |raw| raw.parallel.as_ref())
                .map_or(4, |found| (*found.value).clamp(1, 16)),
            compress: match sync_layers.field("compress", |raw| raw.compress.as_ref()) {
                None => Compression::Auto,
                Some(found) => match found.value {
                    RawCompress::Auto => Compression::Auto,
                    RawCompress::Always => Compression::Always,
                    RawCompress::Never => Compression::Never,
                },
            },
        },
    }
}

fn check_identifier(ctx: &mut Ctx<'_>, found: &Found<'_, String>, what: &str) {
    if !is_sql_identifier(found.value) {
        ctx.report_with_hint(
            found.at.clone(),
            found.key_path.clone(),
            format!("invalid {what} `{}`", found.value),
            "use letters, digits and `_`, at most 32 characters",
        );
    }
}

fn resolve_privileges(
    ctx: &mut Ctx<'_>,
    layers: &Layers<'_, crate::inventory::raw::RawDatabaseUser>,
) -> Vec<String> {
    let Some(found) = layers.field("privileges", |raw| raw.privileges.as_ref()) else {
        return vec!["SELECT".to_string()];
    };

    let mut privileges = Vec::new();
    for (index, privilege) in found.value.iter().enumerate() {
        let upper = privilege.value.to_uppercase();
        if PRIVILEGES.contains(&upper.as_str()) {
            privileges.push(upper);
        } else {
            ctx.report_with_hint(
                crate::yaml::source_ref(&found.at.file, privilege),
                format!("{}/{index}", found.key_path),
                format!(
                    "privilege `{}` is not one wwctl grants to app users",
                    privilege.value
                ),
                format!("use {}", PRIVILEGES.map(|p| format!("`{p}`")).join(", ")),
            );
        }
    }
    privileges
}

pub(super) fn resolve_tls(ctx: &mut Ctx<'_>, root: &Layers<'_, RawInventory>) -> Tls {
    let layers = root.spanned_child("tls", |raw| raw.tls.as_ref());
    let issuer = match layers.field("issuer", |raw| raw.issuer.as_ref()) {
        Some(found)
            if ctx.check_choice(&found, "certificate issuer", &ISSUERS)
                && found.value == "sandbox" =>
        {
            Issuer::Sandbox
        }
        _ => Issuer::Existing,
    };
    let dir = text_or(
        layers.field("dir", |raw| raw.dir.as_ref()),
        "/etc/ssl/wwdtm",
    );
    Tls { issuer, dir }
}

pub(super) fn resolve_cloud(ctx: &mut Ctx<'_>, root: &Layers<'_, RawInventory>) -> CloudSettings {
    let layers = root.spanned_child("cloud", |raw| raw.cloud.as_ref());
    CloudSettings {
        poll_interval: ctx.duration_or(
            &layers,
            "poll_interval",
            |raw| raw.poll_interval.as_ref(),
            Duration::from_secs(5),
        ),
        ready_timeout: ctx.duration_or(
            &layers,
            "ready_timeout",
            |raw| raw.ready_timeout.as_ref(),
            Duration::from_secs(600),
        ),
        shutdown_timeout: ctx.duration_or(
            &layers,
            "shutdown_timeout",
            |raw| raw.shutdown_timeout.as_ref(),
            Duration::from_secs(120),
        ),
    }
}
