//! Checks across sections, once every section is resolved.

use crate::inventory::layers::Layers;
use crate::inventory::model::{Inventory, RecordTarget};
use crate::inventory::raw::RawInventory;
use crate::suggest;
use crate::yaml::source_ref;

use super::Ctx;

pub(super) fn check_references(
    ctx: &mut Ctx<'_>,
    root: &Layers<'_, RawInventory>,
    inventory: &Inventory,
) {
    check_fleet_names(ctx, root, inventory);
    check_site_records(ctx, inventory);
}

/// `current_fleet` and every alias must name a fleet; an alias must not hide
/// a fleet or an environment of the same name.
fn check_fleet_names(ctx: &mut Ctx<'_>, root: &Layers<'_, RawInventory>, inventory: &Inventory) {
    let fleet_names: Vec<&str> = inventory.fleets.keys().map(String::as_str).collect();
    let project = root.spanned_child("project", |raw| raw.project.as_ref());

    if let Some(found) = project.field("current_fleet", |raw| raw.current_fleet.as_ref())
        && !inventory.fleets.contains_key(found.value.as_str())
    {
        ctx.report_with_hint(
            found.at.clone(),
            found.key_path.clone(),
            format!("unknown fleet `{}`", found.value),
            suggest::hint_for(found.value, fleet_names.iter().copied()),
        );
    }

    let aliases = project.child("aliases", |raw| raw.aliases.as_ref());
    for layer in &aliases.items {
        for (alias, fleet) in layer.value.iter() {
            let at = source_ref(layer.file, fleet);
            let key_path = aliases.path(&alias.value);
            if !inventory.fleets.contains_key(fleet.value.as_str()) {
                ctx.report_with_hint(
                    at,
                    key_path,
                    format!(
                        "alias `{}` names unknown fleet `{}`",
                        alias.value, fleet.value
                    ),
                    suggest::hint_for(&fleet.value, fleet_names.iter().copied()),
                );
            } else if inventory.fleets.contains_key(alias.value.as_str())
                || inventory.environments.contains_key(alias.value.as_str())
            {
                ctx.report_with_hint(
                    source_ref(layer.file, alias),
                    key_path,
                    format!(
                        "alias `{}` is also the name of a fleet or an environment",
                        alias.value
                    ),
                    "choose an alias that no fleet or environment uses",
                );
            }
        }
    }
}

/// Checks that a site domain inside a managed zone has an address record
/// that points at the environment serving it, or the site would be
/// unreachable after a move.
fn check_site_records(ctx: &mut Ctx<'_>, inventory: &Inventory) {
    for site in inventory.sites.values() {
        for (env, domain) in &site.domains {
            let Some((zone, relative)) = inventory.zone_for(domain) else {
                continue;
            };
            let points_here = zone.records.iter().any(|record| {
                record.name == relative
                    && match &record.target {
                        RecordTarget::Env(target) => target == env,
                        RecordTarget::Droplet(name) => inventory
                            .find_droplet(name)
                            .is_some_and(|droplet| &droplet.env == env),
                    }
            });
            if !points_here {
                ctx.report_with_hint(
                    site.origin.at.clone(),
                    format!("{}/domains/{env}", site.origin.key_path),
                    format!("no record in zone `{}` points `{domain}` at environment `{env}`", zone.name),
                    format!("add `{relative}: {{ type: A, points_to: {{ env: {env} }} }}` under `dns/zones/{}/records`", zone.name),
                );
            }
        }
    }

    // A droplet with a missing or unknown environment was reported already,
    // and the environment a record seems to lack may be the one it meant.
    let droplet_env_reported = inventory
        .fleets
        .values()
        .flat_map(|fleet| fleet.droplets.values())
        .any(|droplet| !inventory.environments.contains_key(&droplet.env));
    if droplet_env_reported {
        return;
    }
    for zone in inventory.dns.zones.values() {
        for record in &zone.records {
            if let RecordTarget::Env(env) = &record.target {
                let served = inventory
                    .fleets
                    .values()
                    .any(|fleet| fleet.droplets.values().any(|droplet| &droplet.env == env));
                if !env.is_empty() && inventory.environments.contains_key(env) && !served {
                    ctx.report_with_hint(
                        record.origin.at.clone(),
                        format!("{}/points_to/env", record.origin.key_path),
                        format!("no fleet has a droplet in environment `{env}`"),
                        "add droplets for this environment to a fleet, or point the record elsewhere",
                    );
                }
            }
        }
    }
}
