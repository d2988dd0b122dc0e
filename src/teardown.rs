//! The droplets a teardown may delete, decided from data alone.
//!
//! A droplet is selected only when wwctl can prove it owns it as part of the
//! fleet: by the id recorded when wwctl created or adopted it, or by the
//! fleet's tag plus its name when exactly one droplet matches. Every
//! selected droplet must carry the fleet's tag, belong to no other fleet,
//! not be a server the registry records elsewhere, and receive no traffic:
//! no managed record points at it and its drain time has passed.

use jiff::Timestamp;
use serde::Serialize;

use crate::resources::Resources;

/// A droplet as the API lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listed {
    pub id: u64,
    pub name: String,
    pub tags: Vec<String>,
    pub address: Option<String>,
}

/// An address record in a managed zone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordView {
    /// Fully qualified name, such as `stats.wwdt.me`.
    pub name: String,
    pub data: String,
}

/// Everything the selection looks at.
#[derive(Clone, Debug)]
pub struct World<'a> {
    pub fleet: &'a str,
    /// Inventory names of the droplets to delete.
    pub targets: &'a [String],
    pub registry: &'a Resources,
    /// Droplets with the fleet's tag, plus every droplet the registry
    /// records for a target.
    pub listed: &'a [Listed],
    pub records: &'a [RecordView],
    /// Whether a migration away from this fleet finished and passed its
    /// health gate on the replacement.
    pub migrated: bool,
    pub now: Timestamp,
    /// `--force`: delete before the drain time has passed.
    pub force: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchedBy {
    RecordedId,
    TagAndName,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Selected {
    pub name: String,
    pub id: u64,
    pub address: Option<String>,
    pub matched_by: MatchedBy,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Selection {
    pub droplets: Vec<Selected>,
    /// Targets with nothing to delete (already gone), with the reason.
    pub absent: Vec<String>,
    /// Drains `--force` overrode: (address, until).
    pub forced_drains: Vec<(String, Timestamp)>,
}

/// A reason a teardown must not go on, with the way forward.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error(
        "{count} droplets named `{name}` carry the fleet tag (ids {ids}); wwctl cannot tell which one it owns"
    )]
    Ambiguous {
        name: String,
        count: usize,
        ids: String,
    },
    #[error(
        "droplet `{name}` (id {id}) lacks the tag `{tag}`, so wwctl does not treat it as part of the fleet"
    )]
    MissingFleetTag { name: String, id: u64, tag: String },
    #[error("droplet `{name}` (id {id}) carries the tag `{tag}` of another fleet")]
    OtherFleet { name: String, id: u64, tag: String },
    #[error(
        "droplet {id} is `{owner}` of fleet `{owner_fleet}` in wwctl's registry, not part of this teardown"
    )]
    OwnedElsewhere {
        id: u64,
        owner: String,
        owner_fleet: String,
    },
    #[error("record `{record}` still points at `{name}` ({address})")]
    StillInDns {
        record: String,
        name: String,
        address: String,
    },
    #[error("no migration away from fleet `{fleet}` has finished with a passed health gate")]
    NotMigrated { fleet: String },
    #[error(
        "traffic to `{name}` ({address}) may still arrive until {until}, when the old DNS answers expire"
    )]
    Draining {
        name: String,
        address: String,
        until: Timestamp,
    },
}

impl Refusal {
    /// Suggests what to do about it.
    pub fn hint(&self, fleet: &str) -> String {
        match self {
            Refusal::Ambiguous { .. } => "delete the extra droplet by id in the control panel, or record the right id in the inventory (`id:`)".to_string(),
            Refusal::MissingFleetTag { tag, .. } => format!("if it belongs to the fleet, tag it `{tag}`; otherwise remove it from the fleet in the inventory"),
            Refusal::OtherFleet { .. } | Refusal::OwnedElsewhere { .. } => "check the inventory: a droplet belongs to one fleet only".to_string(),
            Refusal::StillInDns { .. } => format!("move DNS first: `wwctl migrate --from {fleet} --to <fleet>`"),
            Refusal::NotMigrated { .. } => format!("run `wwctl migrate --from {fleet} --to <fleet>` first"),
            Refusal::Draining { until, .. } => format!("wait until {until}, or pass `--force` to delete now"),
        }
    }
}

pub fn fleet_tag(fleet: &str) -> String {
    format!("wwctl-fleet:{fleet}")
}

/// Decide what to delete, or every reason not to.
pub fn select(world: &World<'_>) -> Result<Selection, Vec<Refusal>> {
    let tag = fleet_tag(world.fleet);
    let mut refusals = Vec::new();
    let mut selection = Selection::default();

    if !world.migrated {
        refusals.push(Refusal::NotMigrated {
            fleet: world.fleet.to_string(),
        });
    }

    for name in world.targets {
        match identify(world, name, &tag) {
            Ok(Some(selected)) => selection.droplets.push(selected),
            Ok(None) => selection.absent.push(name.clone()),
            Err(refusal) => refusals.push(refusal),
        }
    }

    let mut forced_drains = Vec::new();
    for selected in &selection.droplets {
        let listed = world
            .listed
            .iter()
            .find(|droplet| droplet.id == selected.id)
            .expect("selected droplets are listed");
        check_tags(listed, &tag, &mut refusals);
        check_registry(world, selected, &mut refusals);
        if let Some(address) = &selected.address {
            check_traffic(world, selected, address, &mut forced_drains, &mut refusals);
        }
    }
    selection.forced_drains = forced_drains;

    if refusals.is_empty() {
        Ok(selection)
    } else {
        Err(refusals)
    }
}

/// Find the droplet that is `name` of this fleet: by recorded id, else by
/// fleet tag and name when exactly one matches.
fn identify(world: &World<'_>, name: &str, tag: &str) -> Result<Option<Selected>, Refusal> {
    let recorded = world
        .registry
        .droplet(name)
        .filter(|owned| owned.fleet == world.fleet)
        .and_then(|owned| world.listed.iter().find(|droplet| droplet.id == owned.id));
    if let Some(listed) = recorded {
        return Ok(Some(selected(name, listed, MatchedBy::RecordedId)));
    }

    let candidates: Vec<&Listed> = world
        .listed
        .iter()
        .filter(|droplet| {
            droplet.name.eq_ignore_ascii_case(name) && droplet.tags.iter().any(|t| t == tag)
        })
        .collect();
    match candidates.as_slice() {
        [] => Ok(None),
        [only] => Ok(Some(selected(name, only, MatchedBy::TagAndName))),
        many => Err(Refusal::Ambiguous {
            name: name.to_string(),
            count: many.len(),
            ids: many
                .iter()
                .map(|droplet| droplet.id.to_string())
                .collect::<Vec<_>>()
                .join(", "),
        }),
    }
}

fn selected(name: &str, listed: &Listed, matched_by: MatchedBy) -> Selected {
    Selected {
        name: name.to_string(),
        id: listed.id,
        address: listed.address.clone(),
        matched_by,
    }
}

fn check_tags(listed: &Listed, tag: &str, refusals: &mut Vec<Refusal>) {
    if !listed.tags.iter().any(|t| t == tag) {
        refusals.push(Refusal::MissingFleetTag {
            name: listed.name.clone(),
            id: listed.id,
            tag: tag.to_string(),
        });
    }
    for other in listed
        .tags
        .iter()
        .filter(|t| t.starts_with("wwctl-fleet:") && *t != tag)
    {
        refusals.push(Refusal::OtherFleet {
            name: listed.name.clone(),
            id: listed.id,
            tag: other.clone(),
        });
    }
}

/// Refuses a droplet the registry records under another name or fleet (the
/// new server, say): it is never deleted here.
fn check_registry(world: &World<'_>, selected: &Selected, refusals: &mut Vec<Refusal>) {
    for owned in world
        .registry
        .droplets
        .values()
        .filter(|owned| owned.deleted_at.is_none() && owned.id == selected.id)
    {
        if owned.fleet != world.fleet || owned.name != selected.name {
            refusals.push(Refusal::OwnedElsewhere {
                id: selected.id,
                owner: owned.name.clone(),
                owner_fleet: owned.fleet.clone(),
            });
        }
    }
}

fn check_traffic(
    world: &World<'_>,
    selected: &Selected,
    address: &str,
    forced_drains: &mut Vec<(String, Timestamp)>,
    refusals: &mut Vec<Refusal>,
) {
    for record in world.records.iter().filter(|record| record.data == address) {
        refusals.push(Refusal::StillInDns {
            record: record.name.clone(),
            name: selected.name.clone(),
            address: address.to_string(),
        });
    }

    let until = world
        .registry
        .drains
        .iter()
        .filter(|drain| drain.address == address && drain.until > world.now)
        .map(|drain| drain.until)
        .max();
    if let Some(until) = until {
        if world.force {
            forced_drains.push((address.to_string(), until));
        } else {
            refusals.push(Refusal::Draining {
                name: selected.name.clone(),
                address: address.to_string(),
                until,
            });
        }
    }
}
