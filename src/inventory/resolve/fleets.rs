//! Fleets and their droplets.

use indexmap::IndexMap;

use crate::diagnostic::SourceRef;
use crate::inventory::layers::{Entry, Layers};
use crate::inventory::model::{Droplet, Environment, Fleet, Origin, Project, Role};
use crate::inventory::names;
use crate::inventory::raw::{RawDroplet, RawFleet, RawInventory};
use crate::suggest;

use super::Ctx;

pub(super) fn resolve(
    ctx: &mut Ctx<'_>,
    root: &Layers<'_, RawInventory>,
    project: &Project,
    environments: &IndexMap<String, Environment>,
) -> IndexMap<String, Fleet> {
    let section = root.spanned_child("fleets", |raw| raw.fleets.as_ref());
    let entries = section.entries("", Some, ctx.diagnostics);
    if entries.is_empty() {
        ctx.report_with_hint(
            section.origin.clone(),
            "fleets",
            "no fleets are defined",
            "add `fleets:` with at least one fleet and its droplets",
        );
    }

    let mut fleets = IndexMap::new();
    let mut seen_names: IndexMap<String, SourceRef> = IndexMap::new();
    for entry in entries {
        let fleet = resolve_fleet(ctx, &entry, project, environments, &mut seen_names);
        fleets.insert(entry.key.to_string(), fleet);
    }
    fleets
}

fn resolve_fleet(
    ctx: &mut Ctx<'_>,
    entry: &Entry<'_, RawFleet>,
    project: &Project,
    environments: &IndexMap<String, Environment>,
    seen_names: &mut IndexMap<String, SourceRef>,
) -> Fleet {
    let layers = &entry.layers;
    let description = layers
        .field("description", |raw| raw.description.as_ref())
        .map(|found| found.value.clone())
        .unwrap_or_default();

    let droplet_entries = layers.entries("droplets", |raw| raw.droplets.as_ref(), ctx.diagnostics);
    if droplet_entries.is_empty() {
        ctx.report_with_hint(
            layers.origin.clone(),
            layers.path("droplets"),
            format!("fleet `{}` has no droplets", entry.key),
            "add `droplets:` with at least one droplet",
        );
    }

    let mut droplets = IndexMap::new();
    for droplet_entry in droplet_entries {
        check_unique_name(ctx, &droplet_entry, seen_names);
        let droplet = resolve_droplet(ctx, &droplet_entry, entry.key, project, environments);
        droplets.insert(droplet.name.clone(), droplet);
    }

    let fleet = Fleet {
        name: entry.key.to_string(),
        description,
        droplets,
    };
    check_roles_per_environment(ctx, layers, &fleet);
    fleet
}

fn check_unique_name(
    ctx: &mut Ctx<'_>,
    entry: &Entry<'_, RawDroplet>,
    seen_names: &mut IndexMap<String, SourceRef>,
) {
    let at = entry.layers.origin.clone();
    let lowered = entry.key.to_lowercase();
    match seen_names.get(&lowered) {
        Some(first) => ctx.report_with_hint(
            at,
            entry.layers.key_path.clone(),
            format!("duplicate droplet name `{}`, first defined at {first}", entry.key),
            "droplet names must be unique across all fleets (case-insensitively, as DigitalOcean matches them); rename one",
        ),
        None => {
            seen_names.insert(lowered, at);
        }
    }
}

fn resolve_droplet(
    ctx: &mut Ctx<'_>,
    entry: &Entry<'_, RawDroplet>,
    fleet: &str,
    project: &Project,
    environments: &IndexMap<String, Environment>,
) -> Droplet {
    let layers = &entry.layers;
    if let Err(reason) = names::check_hostname(entry.key) {
        ctx.report_with_hint(
            layers.origin.clone(),
            layers.key_path.clone(),
            format!(
                "droplet name `{}` is not a valid hostname: {reason}",
                entry.key
            ),
            format!(
                "rename it, for example to `{}`",
                names::suggest_hostname(entry.key)
            ),
        );
    }

    let env_names: Vec<&str> = environments.keys().map(String::as_str).collect();
    let env = match ctx.required(layers, "env", |raw| raw.env.as_ref()) {
        Some(found) => {
            ctx.check_choice(&found, "environment", &env_names);
            found.value.clone()
        }
        None => String::new(),
    };

    let roles = resolve_roles(ctx, layers);
    let size = ctx.required_string(layers, "size", |raw| raw.size.as_ref());
    let memory_mb = resolve_memory(ctx, layers, &size);
    let tags = resolve_tags(ctx, layers);
    let host_keys = layers
        .field("host_keys", |raw| raw.host_keys.as_ref())
        .map(|found| found.value.iter().map(|key| key.value.clone()).collect())
        .unwrap_or_default();

    Droplet {
        name: entry.key.to_string(),
        fleet: fleet.to_string(),
        env,
        roles,
        size,
        memory_mb,
        region: string_or(
            layers.field("region", |raw| raw.region.as_ref()),
            &project.region,
        ),
        image: string_or(
            layers.field("image", |raw| raw.image.as_ref()),
            &project.image,
        ),
        tags,
        adopt_id: layers
            .field("id", |raw| raw.id.as_ref())
            .map(|found| *found.value),
        host_keys,
        login_user: string_or(
            layers.field("login_user", |raw| raw.login_user.as_ref()),
            "root",
        ),
        origin: Origin {
            at: layers.origin.clone(),
            key_path: layers.key_path.clone(),
        },
    }
}

fn string_or(found: Option<crate::inventory::layers::Found<'_, String>>, default: &str) -> String {
    found
        .map(|found| found.value.clone())
        .unwrap_or_else(|| default.to_string())
}

fn resolve_roles(ctx: &mut Ctx<'_>, layers: &Layers<'_, RawDroplet>) -> Vec<Role> {
    let Some(found) = ctx.required(layers, "roles", |raw| raw.roles.as_ref()) else {
        return Vec::new();
    };
    if found.value.is_empty() {
        ctx.report_with_hint(
            found.at.clone(),
            found.key_path.clone(),
            "a droplet needs at least one role",
            "use `proxy`, `app` and `database`, for example `[proxy, app, database]` for an all-in-one server",
        );
    }

    let role_names: Vec<&str> = Role::ALL.iter().map(|role| role.name()).collect();
    let mut roles = Vec::new();
    for (index, name) in found.value.iter().enumerate() {
        match Role::parse(&name.value) {
            Some(role) if !roles.contains(&role) => roles.push(role),
            Some(_) => ctx.report(
                crate::yaml::source_ref(&found.at.file, name),
                format!("{}/{index}", found.key_path),
                format!("role `{}` is listed twice", name.value),
            ),
            None => ctx.report_with_hint(
                crate::yaml::source_ref(&found.at.file, name),
                format!("{}/{index}", found.key_path),
                format!("unknown role `{}`", name.value),
                suggest::hint_for(&name.value, role_names.iter().copied()),
            ),
        }
    }
    roles.sort();
    roles
}

fn resolve_memory(ctx: &mut Ctx<'_>, layers: &Layers<'_, RawDroplet>, size: &str) -> u64 {
    if let Some(found) = layers.field("memory_mb", |raw| raw.memory_mb.as_ref()) {
        if *found.value == 0 {
            ctx.report_with_hint(
                found.at,
                found.key_path,
                "memory_mb is 0",
                "set the droplet's memory in MiB, such as 2048, or remove the key to read it from the size slug",
            );
        }
        return *found.value;
    }

    match names::memory_from_size_slug(size) {
        Some(memory) => memory,
        None if size.is_empty() => 0,
        None => {
            ctx.report_with_hint(
                layers.origin.clone(),
                layers.path("memory_mb"),
                format!("the size slug `{size}` does not say how much memory the droplet has"),
                "add `memory_mb:` with the size's memory in MiB",
            );
            0
        }
    }
}

fn resolve_tags(ctx: &mut Ctx<'_>, layers: &Layers<'_, RawDroplet>) -> Vec<String> {
    let Some(found) = layers.field("tags", |raw| raw.tags.as_ref()) else {
        return Vec::new();
    };

    let mut tags = Vec::new();
    for (index, tag) in found.value.iter().enumerate() {
        if let Err(reason) = names::check_tag(&tag.value) {
            ctx.report(
                crate::yaml::source_ref(&found.at.file, tag),
                format!("{}/{index}", found.key_path),
                format!("invalid tag `{}`: {reason}", tag.value),
            );
        }
        if tag.value.starts_with("wwctl") {
            ctx.report_with_hint(
                crate::yaml::source_ref(&found.at.file, tag),
                format!("{}/{index}", found.key_path),
                format!(
                    "tag `{}` uses the `wwctl` prefix that wwctl reserves for ownership tags",
                    tag.value
                ),
                "choose a tag name that does not start with `wwctl`",
            );
        }
        tags.push(tag.value.clone());
    }
    tags
}

/// Checks that each environment in a fleet has exactly one proxy (the
/// address its DNS records point at), at least one app server and exactly
/// one database.
fn check_roles_per_environment(ctx: &mut Ctx<'_>, layers: &Layers<'_, RawFleet>, fleet: &Fleet) {
    let mut envs: Vec<&str> = fleet
        .droplets
        .values()
        .map(|droplet| droplet.env.as_str())
        .collect();
    envs.sort();
    envs.dedup();

    for env in envs.into_iter().filter(|env| !env.is_empty()) {
        for (role, wanted) in [
            (Role::Proxy, "exactly one"),
            (Role::App, "at least one"),
            (Role::Database, "exactly one"),
        ] {
            let holders: Vec<&str> = fleet
                .droplets
                .values()
                .filter(|droplet| droplet.env == env && droplet.has_role(role))
                .map(|droplet| droplet.name.as_str())
                .collect();
            let fits = match role {
                Role::App => !holders.is_empty(),
                _ => holders.len() == 1,
            };
            if !fits {
                let found = if holders.is_empty() {
                    "none".to_string()
                } else {
                    holders
                        .iter()
                        .map(|name| format!("`{name}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                ctx.report_with_hint(
                    layers.origin.clone(),
                    layers.path("droplets"),
                    format!(
                        "environment `{env}` of fleet `{}` needs {wanted} droplet with role `{}`, found {found}",
                        fleet.name,
                        role.name()
                    ),
                    format!("give the `{}` role to {wanted} `{env}` droplet of this fleet", role.name()),
                );
            }
        }
    }
}
