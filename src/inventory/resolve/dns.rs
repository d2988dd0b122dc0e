//! DNS zones and the records wwctl manages in them.

use std::time::Duration;

use indexmap::IndexMap;

use crate::inventory::layers::{Entry, Layers};
use crate::inventory::model::{Dns, Environment, Fleet, Origin, Record, RecordTarget, Zone};
use crate::inventory::names;
use crate::inventory::raw::{RawInventory, RawRecord, RawZone};
use crate::suggest;

use super::Ctx;

/// Record types whose value wwctl fills with a droplet's address.
const ADDRESS_TYPES: [&str; 2] = ["A", "AAAA"];

pub(super) fn resolve(
    ctx: &mut Ctx<'_>,
    root: &Layers<'_, RawInventory>,
    environments: &IndexMap<String, Environment>,
    fleets: &IndexMap<String, Fleet>,
) -> Dns {
    let section = root.spanned_child("dns", |raw| raw.dns.as_ref());
    let entries = section.entries("zones", |raw| raw.zones.as_ref(), ctx.diagnostics);

    let mut zones = IndexMap::new();
    for entry in entries {
        let zone = resolve_zone(ctx, &entry, environments, fleets);
        zones.insert(zone.name.clone(), zone);
    }
    Dns { zones }
}

fn resolve_zone(
    ctx: &mut Ctx<'_>,
    entry: &Entry<'_, RawZone>,
    environments: &IndexMap<String, Environment>,
    fleets: &IndexMap<String, Fleet>,
) -> Zone {
    let layers = &entry.layers;
    let name = entry.key.trim_end_matches('.').to_lowercase();
    if let Err(reason) = names::check_domain(&name) {
        ctx.report(
            layers.origin.clone(),
            layers.key_path.clone(),
            format!("invalid zone name `{}`: {reason}", entry.key),
        );
    }

    let ttl = ctx
        .required(layers, "ttl", |raw| raw.ttl.as_ref())
        .and_then(|found| ctx.ttl(&found))
        .unwrap_or(3600);
    let cutover_ttl = match layers.field("cutover_ttl", |raw| raw.cutover_ttl.as_ref()) {
        Some(found) => ctx.ttl(&found).unwrap_or(60),
        None => 60.min(ttl),
    };
    let drain_margin = ctx.duration_or(
        layers,
        "drain_margin",
        |raw| raw.drain_margin.as_ref(),
        Duration::from_secs(60),
    );

    let record_entries = layers.entries("records", |raw| raw.records.as_ref(), ctx.diagnostics);
    let records = record_entries
        .iter()
        .map(|record| resolve_record(ctx, record, environments, fleets))
        .collect();

    Zone {
        name,
        ttl,
        cutover_ttl,
        drain_margin,
        records,
    }
}

fn resolve_record(
    ctx: &mut Ctx<'_>,
    entry: &Entry<'_, RawRecord>,
    environments: &IndexMap<String, Environment>,
    fleets: &IndexMap<String, Fleet>,
) -> Record {
    let layers = &entry.layers;
    if let Err(reason) = names::check_record_name(entry.key) {
        ctx.report_with_hint(
            layers.origin.clone(),
            layers.key_path.clone(),
            format!("invalid record name `{}`: {reason}", entry.key),
            "write names relative to the zone: `@` for the apex, `stats` for stats.<zone>",
        );
    }

    let record_type = match ctx.required(layers, "type", |raw| raw.record_type.as_ref()) {
        Some(found) => {
            ctx.check_choice(&found, "record type for a managed address", &ADDRESS_TYPES);
            found.value.clone()
        }
        None => String::new(),
    };
    let ttl = layers
        .field("ttl", |raw| raw.ttl.as_ref())
        .and_then(|found| ctx.ttl(&found));
    let target = resolve_target(ctx, layers, environments, fleets);

    Record {
        name: entry.key.to_string(),
        record_type,
        target,
        ttl,
        origin: Origin {
            at: layers.origin.clone(),
            key_path: layers.key_path.clone(),
        },
    }
}

fn resolve_target(
    ctx: &mut Ctx<'_>,
    layers: &Layers<'_, RawRecord>,
    environments: &IndexMap<String, Environment>,
    fleets: &IndexMap<String, Fleet>,
) -> RecordTarget {
    let target = layers.spanned_child("points_to", |raw| raw.points_to.as_ref());
    if target.is_empty() {
        ctx.report_with_hint(
            layers.origin.clone(),
            layers.path("points_to"),
            "missing required key `points_to`",
            "add `points_to: { env: prod }` to follow an environment, or `points_to: { droplet: <name> }`",
        );
        return RecordTarget::Env(String::new());
    }

    let env = target.field("env", |raw| raw.env.as_ref());
    let droplet = target.field("droplet", |raw| raw.droplet.as_ref());
    match (env, droplet) {
        (Some(env), None) => {
            let names: Vec<&str> = environments.keys().map(String::as_str).collect();
            ctx.check_choice(&env, "environment", &names);
            RecordTarget::Env(env.value.clone())
        }
        (None, Some(droplet)) => {
            let known = fleets
                .values()
                .any(|fleet| fleet.droplets.contains_key(droplet.value.as_str()));
            if !known {
                let all = fleets
                    .values()
                    .flat_map(|fleet| fleet.droplets.keys())
                    .map(String::as_str);
                ctx.report_with_hint(
                    droplet.at.clone(),
                    droplet.key_path.clone(),
                    format!(
                        "record points to droplet `{}`, which no fleet defines",
                        droplet.value
                    ),
                    suggest::hint_for(droplet.value, all),
                );
            }
            RecordTarget::Droplet(droplet.value.clone())
        }
        _ => {
            ctx.report_with_hint(
                target.origin.clone(),
                target.key_path.clone(),
                "`points_to` needs exactly one of `env` and `droplet`",
                "use `{ env: prod }` or `{ droplet: <name> }`",
            );
            RecordTarget::Env(String::new())
        }
    }
}
