//! Teardown selection: each refusal, and a property test over random
//! fleets, tags, records, registries and drains.

use jiff::Timestamp;
use proptest::prelude::*;
use wwctl::resources::{Drain, OwnedDroplet, Ownership, Resources};
use wwctl::teardown::{Listed, MatchedBy, RecordView, Refusal, World, fleet_tag, select};

const FLEET: &str = "2022";

fn owned(id: u64, name: &str, fleet: &str) -> OwnedDroplet {
    OwnedDroplet {
        id,
        name: name.to_string(),
        fleet: fleet.to_string(),
        env: "prod".to_string(),
        origin: Ownership::Created,
        run_id: "run".to_string(),
        recorded_at: Timestamp::UNIX_EPOCH,
        address: None,
        host_keys: Vec::new(),
        deleted_at: None,
    }
}

fn listed(id: u64, name: &str, tags: &[&str]) -> Listed {
    Listed {
        id,
        name: name.to_string(),
        tags: tags.iter().map(|tag| tag.to_string()).collect(),
        address: Some(format!("10.77.0.{id}")),
    }
}

fn now() -> Timestamp {
    Timestamp::from_second(2_000_000_000).unwrap()
}

struct Case {
    targets: Vec<String>,
    registry: Resources,
    listed: Vec<Listed>,
    records: Vec<RecordView>,
    migrated: bool,
    force: bool,
}

impl Case {
    /// Builds a fleet of one owned droplet `app-old` (id 111), migrated, out of DNS.
    fn healthy() -> Self {
        let mut registry = Resources::default();
        registry
            .droplets
            .insert("app-old".to_string(), owned(111, "app-old", FLEET));
        Self {
            targets: vec!["app-old".to_string()],
            registry,
            listed: vec![listed(111, "app-old", &["wwctl", "wwctl-fleet:2022"])],
            records: Vec::new(),
            migrated: true,
            force: false,
        }
    }

    fn world(&self) -> World<'_> {
        World {
            fleet: FLEET,
            targets: &self.targets,
            registry: &self.registry,
            listed: &self.listed,
            records: &self.records,
            migrated: self.migrated,
            now: now(),
            force: self.force,
        }
    }
}

#[test]
fn healthy_fleet_is_selected_by_recorded_id() {
    let case = Case::healthy();
    let selection = select(&case.world()).unwrap();
    assert_eq!(selection.droplets.len(), 1);
    assert_eq!(selection.droplets[0].id, 111);
    assert_eq!(selection.droplets[0].matched_by, MatchedBy::RecordedId);
}

#[test]
fn same_name_new_server_is_never_selected() {
    // Two droplets named `app-old`: 111 (the old one, recorded) and 222 (the
    // new, live one). Only the recorded id is selected.
    let mut case = Case::healthy();
    case.registry
        .droplets
        .insert("prod-2023".to_string(), owned(222, "prod-2023", "2023"));
    case.listed
        .push(listed(222, "app-old", &["wwctl", "wwctl-fleet:2023"]));
    let selection = select(&case.world()).unwrap();
    let ids: Vec<u64> = selection
        .droplets
        .iter()
        .map(|droplet| droplet.id)
        .collect();
    assert_eq!(ids, vec![111]);
}

#[test]
fn two_tagged_droplets_with_one_name_are_ambiguous() {
    let mut case = Case::healthy();
    case.registry = Resources::default();
    case.listed = vec![
        listed(111, "app-old", &["wwctl-fleet:2022"]),
        listed(222, "app-old", &["wwctl-fleet:2022"]),
    ];
    let refusals = select(&case.world()).unwrap_err();
    assert_eq!(
        refusals,
        vec![Refusal::Ambiguous {
            name: "app-old".to_string(),
            count: 2,
            ids: "111, 222".to_string()
        }]
    );
}

#[test]
fn record_pointing_at_target_refuses() {
    let mut case = Case::healthy();
    case.records.push(RecordView {
        name: "stats.wwdt.me".to_string(),
        data: "10.77.0.111".to_string(),
    });
    let refusals = select(&case.world()).unwrap_err();
    assert!(
        matches!(&refusals[0], Refusal::StillInDns { record, .. } if record == "stats.wwdt.me"),
        "{refusals:?}"
    );
    assert!(
        refusals[0]
            .hint(FLEET)
            .contains("wwctl migrate --from 2022")
    );
}

#[test]
fn unmigrated_fleet_refuses() {
    let mut case = Case::healthy();
    case.migrated = false;
    let refusals = select(&case.world()).unwrap_err();
    assert_eq!(
        refusals,
        vec![Refusal::NotMigrated {
            fleet: FLEET.to_string()
        }]
    );
}

#[test]
fn draining_address_refuses_unless_forced() {
    let mut case = Case::healthy();
    let until = now()
        .checked_add(jiff::SignedDuration::from_secs(600))
        .unwrap();
    case.registry.drains.push(Drain {
        name: "stats.wwdt.me".to_string(),
        address: "10.77.0.111".to_string(),
        until,
        run_id: "run".to_string(),
    });
    let refusals = select(&case.world()).unwrap_err();
    assert!(
        matches!(&refusals[0], Refusal::Draining { until: found, .. } if *found == until),
        "{refusals:?}"
    );
    assert!(refusals[0].hint(FLEET).contains("--force"));

    case.force = true;
    let selection = select(&case.world()).unwrap();
    assert_eq!(
        selection.forced_drains,
        vec![("10.77.0.111".to_string(), until)]
    );
}

#[test]
fn target_without_fleet_tag_refuses() {
    let mut case = Case::healthy();
    case.listed = vec![listed(111, "app-old", &["wwctl"])];
    let refusals = select(&case.world()).unwrap_err();
    assert_eq!(
        refusals,
        vec![Refusal::MissingFleetTag {
            name: "app-old".to_string(),
            id: 111,
            tag: fleet_tag(FLEET)
        }]
    );
}

#[test]
fn target_of_other_fleet_refuses() {
    let mut case = Case::healthy();
    case.listed = vec![listed(
        111,
        "app-old",
        &["wwctl-fleet:2022", "wwctl-fleet:2023"],
    )];
    let refusals = select(&case.world()).unwrap_err();
    assert!(
        matches!(&refusals[0], Refusal::OtherFleet { tag, .. } if tag == "wwctl-fleet:2023"),
        "{refusals:?}"
    );
}

#[test]
fn new_server_recorded_elsewhere_refuses() {
    // The inventory names `app-old` in fleet 2022, but the only tagged
    // droplet of that name is the registry's `prod-2023`.
    let mut case = Case::healthy();
    case.registry = Resources::default();
    case.registry
        .droplets
        .insert("prod-2023".to_string(), owned(222, "prod-2023", "2023"));
    case.listed = vec![listed(222, "app-old", &["wwctl-fleet:2022"])];
    let refusals = select(&case.world()).unwrap_err();
    assert!(
        matches!(&refusals[0], Refusal::OwnedElsewhere { id: 222, .. }),
        "{refusals:?}"
    );
}

#[test]
fn deleted_droplet_is_absent_not_an_error() {
    let mut case = Case::healthy();
    case.listed.clear();
    let selection = select(&case.world()).unwrap();
    assert!(selection.droplets.is_empty());
    assert_eq!(selection.absent, vec!["app-old".to_string()]);
}

// ------------------------------------------------------------ property test

const NAMES: [&str; 4] = ["lb", "app1", "db", "staging"];
const TAGS: [&str; 4] = ["wwctl", "wwctl-fleet:2022", "wwctl-fleet:2023", "web"];

fn registry_strategy() -> impl Strategy<Value = Resources> {
    let entry = (
        0usize..NAMES.len(),
        1u64..10,
        prop::bool::ANY,
        prop::bool::ANY,
    );
    (
        proptest::collection::vec(entry, 0..6),
        proptest::collection::vec((1u64..10, -100i64..100), 0..4),
    )
        .prop_map(|(entries, drains)| {
            let mut registry = Resources::default();
            for (name, id, other_fleet, deleted) in entries {
                let fleet = if other_fleet { "2023" } else { FLEET };
                let mut record = owned(id, NAMES[name], fleet);
                if deleted {
                    record.deleted_at = Some(Timestamp::UNIX_EPOCH);
                }
                registry.droplets.insert(NAMES[name].to_string(), record);
            }
            for (id, offset) in drains {
                registry.drains.push(Drain {
                    name: "stats.wwdt.me".to_string(),
                    address: format!("10.77.0.{id}"),
                    until: now()
                        .checked_add(jiff::SignedDuration::from_secs(offset * 60))
                        .unwrap(),
                    run_id: "run".to_string(),
                });
            }
            registry
        })
}

fn listed_strategy() -> impl Strategy<Value = Vec<Listed>> {
    let droplet = (
        0usize..NAMES.len() + 1,
        proptest::collection::vec(0usize..TAGS.len(), 0..3),
        prop::bool::ANY,
    );
    proptest::collection::vec(droplet, 0..8).prop_map(|droplets| {
        droplets
            .into_iter()
            .enumerate()
            .map(|(index, (name, tags, has_address))| {
                let id = index as u64 + 1;
                let mut tags: Vec<String> =
                    tags.into_iter().map(|tag| TAGS[tag].to_string()).collect();
                tags.dedup();
                Listed {
                    id,
                    name: NAMES.get(name).copied().unwrap_or("stranger").to_string(),
                    tags,
                    address: has_address.then(|| format!("10.77.0.{id}")),
                }
            })
            .collect()
    })
}

fn records_strategy() -> impl Strategy<Value = Vec<RecordView>> {
    proptest::collection::vec(1u64..12, 0..3).prop_map(|ids| {
        ids.into_iter()
            .map(|id| RecordView {
                name: "stats.wwdt.me".to_string(),
                data: format!("10.77.0.{id}"),
            })
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(10_000))]

    #[test]
    fn selection_never_leaves_the_rules(
        targets in proptest::sample::subsequence(NAMES.to_vec(), 0..=NAMES.len()),
        registry in registry_strategy(),
        listed in listed_strategy(),
        records in records_strategy(),
        migrated in prop::bool::ANY,
        force in prop::bool::ANY,
    ) {
        let targets: Vec<String> = targets.into_iter().map(str::to_string).collect();
        let world = World { fleet: FLEET, targets: &targets, registry: &registry, listed: &listed, records: &records, migrated, now: now(), force };
        let Ok(selection) = select(&world) else { return Ok(()) };

        prop_assert!(migrated, "selected without a finished migration");
        let mut ids: Vec<u64> = selection.droplets.iter().map(|droplet| droplet.id).collect();
        ids.sort();
        ids.dedup();
        prop_assert_eq!(ids.len(), selection.droplets.len(), "a droplet selected twice");

        for chosen in &selection.droplets {
            prop_assert!(targets.contains(&chosen.name), "selected a droplet outside the targets");
            let droplet = listed.iter().find(|droplet| droplet.id == chosen.id).expect("selected from the list");
            prop_assert!(droplet.tags.iter().any(|tag| tag == "wwctl-fleet:2022"), "selected without the fleet tag");
            prop_assert!(!droplet.tags.iter().any(|tag| tag.starts_with("wwctl-fleet:") && tag != "wwctl-fleet:2022"), "selected with another fleet's tag");

            match chosen.matched_by {
                MatchedBy::RecordedId => {
                    let record = registry.droplet(&chosen.name).expect("recorded");
                    prop_assert_eq!(record.id, chosen.id);
                    prop_assert_eq!(record.fleet.as_str(), FLEET);
                }
                MatchedBy::TagAndName => {
                    let matching = listed
                        .iter()
                        .filter(|other| other.name.eq_ignore_ascii_case(&chosen.name) && other.tags.iter().any(|tag| tag == "wwctl-fleet:2022"))
                        .count();
                    prop_assert_eq!(matching, 1, "matched by name while ambiguous");
                }
            }

            for owner in registry.droplets.values().filter(|owner| owner.deleted_at.is_none() && owner.id == chosen.id) {
                prop_assert!(owner.fleet == FLEET && owner.name == chosen.name, "selected a droplet the registry records elsewhere");
            }
            if let Some(address) = &chosen.address {
                prop_assert!(!records.iter().any(|record| &record.data == address), "selected while DNS points at it");
                let draining = registry.drains.iter().any(|drain| &drain.address == address && drain.until > now());
                prop_assert!(!draining || force, "selected while draining without --force");
            }
        }
    }
}
