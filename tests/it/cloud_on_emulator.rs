//! The real DigitalOcean client against the sandbox emulator, through Prism:
//! every request and answer is checked against the official spec, so a
//! client call that succeeds here spoke the real API's language.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use wwctl::clock::ScaledClock;
use wwctl::cloud::{
    CloudClient, CloudConfig, CloudError, CreatedDroplet, Deletion, DropletAction, DropletSpec,
    FirewallSpec, ImageRef, InboundRule, PollSettings, RecordChange, RecordFilter, RecordSpec,
    RecordType, RetryPolicy, RuleTargets,
};
use wwctl::secret::Secret;

use crate::support::cloud::{Account, TestCloud};

const POLL: PollSettings = PollSettings::new(Duration::from_millis(200), Duration::from_secs(60));

/// Builds a client for `account` through Prism, with short retry delays so
/// faulty runs finish quickly. An injected 429 reports `ratelimit-remaining: 0`,
/// which makes the budget spread requests until the hourly reset, so its
/// pauses are cut short too.
fn client(cloud: &TestCloud, account: &Account) -> CloudClient {
    let mut config = CloudConfig::new(cloud.prism_url.clone(), Secret::new(account.token.clone()));
    config.policy = RetryPolicy {
        max_attempts: 8,
        max_rate_limit_retries: 8,
        base_delay: Duration::from_millis(50),
        max_delay: Duration::from_millis(400),
        max_rate_limit_wait: Duration::from_secs(2),
        ..RetryPolicy::default()
    };
    config.budget.max_spread_pause = Duration::from_millis(200);
    CloudClient::new(config, Arc::new(ScaledClock::new(1.0))).unwrap()
}

fn spec(name: &str) -> DropletSpec {
    let mut spec = DropletSpec::new(
        name,
        "nyc3",
        "s-1vcpu-1gb",
        ImageRef::Slug("debian-12-x64".to_string()),
    );
    spec.tags = vec!["wwctl".to_string(), "wwctl-fleet:test".to_string()];
    spec
}

#[tokio::test]
async fn create_waits_for_public_ipv4_and_resume_adopts() {
    let Some(cloud) = TestCloud::from_env("create_waits_for_public_ipv4_and_resume_adopts") else {
        return;
    };
    let account = cloud.account("client-create").await;
    let client = client(&cloud, &account);

    let created = client
        .create_droplet(&spec("web-01"), "wwctl-run:one")
        .await
        .unwrap();
    assert!(!created.adopted);
    // A resumed run with the same run tag finds the droplet instead of posting.
    let resumed = client
        .create_droplet(&spec("web-01"), "wwctl-run:one")
        .await
        .unwrap();
    assert!(resumed.adopted);
    assert_eq!(resumed.id(), created.id());

    let ready = client
        .wait_until_ready(created.id(), created.create_action_id, POLL)
        .await
        .unwrap();
    assert!(
        ready.public_ipv4.to_string().starts_with("10.77."),
        "{}",
        ready.public_ipv4
    );
    assert_eq!(
        client.droplets_by_name("web-01").await.unwrap().len(),
        1,
        "one step made one droplet"
    );
}

#[tokio::test]
async fn records_paginate_upsert_and_reject_low_ttl() {
    let Some(cloud) = TestCloud::from_env("records_paginate_upsert_and_reject_low_ttl") else {
        return;
    };
    let account = cloud.account("client-records").await;
    let client = client(&cloud, &account);
    let zone = format!("client-{}.example", rand::random::<u32>());
    client.ensure_domain(&zone).await.unwrap();

    for index in 0..25 {
        let record = RecordSpec::new(
            RecordType::A,
            format!("host{index:02}"),
            format!("192.0.2.{}", index + 1),
            1800,
        );
        client.create_record(&zone, &record).await.unwrap();
    }
    let all = client
        .records(&zone, &RecordFilter::default())
        .await
        .unwrap();
    assert!(all.len() >= 25, "every page is read: {}", all.len());

    // The record on page two is found: no write when it matches.
    let matching = RecordSpec::new(RecordType::A, "host22", "192.0.2.23", 1800);
    assert!(matches!(
        client.upsert_record(&zone, &matching).await.unwrap(),
        RecordChange::Unchanged(_)
    ));
    let moved = RecordSpec::new(RecordType::A, "host22", "192.0.2.200", 60);
    assert!(matches!(
        client.upsert_record(&zone, &moved).await.unwrap(),
        RecordChange::Updated { .. }
    ));
    assert!(matches!(
        client.upsert_record(&zone, &moved).await.unwrap(),
        RecordChange::Unchanged(_)
    ));

    // The apex spelled three ways is one record.
    for name in ["@", zone.as_str(), &format!("{zone}.")] {
        let apex = RecordSpec::new(RecordType::A, name, "192.0.2.10", 1800);
        client.upsert_record(&zone, &apex).await.unwrap();
    }
    let apex = client
        .records(
            &zone,
            &RecordFilter {
                kind: Some(RecordType::A),
                name: Some(zone.clone()),
            },
        )
        .await
        .unwrap();
    assert_eq!(apex.len(), 1);

    let low = RecordSpec::new(RecordType::A, "host01", "192.0.2.2", 10);
    let error = client.upsert_record(&zone, &low).await.unwrap_err();
    assert!(error.to_string().contains("30"), "{error}");
}

#[tokio::test]
async fn actions_snapshot_and_delete() {
    let Some(cloud) = TestCloud::from_env("actions_snapshot_and_delete") else {
        return;
    };
    let account = cloud.account("client-actions").await;
    let client = client(&cloud, &account);
    let created = client
        .create_droplet(&spec("db-01"), "wwctl-run:two")
        .await
        .unwrap();
    let ready = client
        .wait_until_ready(created.id(), created.create_action_id, POLL)
        .await
        .unwrap();
    let id = ready.droplet.id;

    let shutdown = client
        .start_droplet_action(id, &DropletAction::Shutdown)
        .await
        .unwrap();
    client.wait_for_action(shutdown.id, POLL).await.unwrap();
    let snapshot = client
        .start_droplet_action(
            id,
            &DropletAction::Snapshot {
                name: "final-db-01".to_string(),
            },
        )
        .await
        .unwrap();
    client.wait_for_action(snapshot.id, POLL).await.unwrap();
    let snapshots = client.droplet_snapshots(id).await.unwrap();
    assert!(
        snapshots.iter().any(|found| found.name == "final-db-01"),
        "{snapshots:?}"
    );

    assert_eq!(client.delete_droplet(id).await.unwrap(), Deletion::Deleted);
    assert_eq!(
        client.delete_droplet(id).await.unwrap(),
        Deletion::AlreadyGone
    );
}

/// Builds the injected faults: 429s and 5xx, connections reset before the
/// request is handled, and responses lost after it was.
fn faults(seed: u64) -> serde_json::Value {
    json!({"rate_429": 0.2, "rate_5xx": 0.1, "rate_reset": 0.05, "rate_lost": 0.05, "seed": seed})
}

/// Returns the fault seeds to run: `WWCTL_TEST_FAULT_SEEDS` (such as `1,2,3`),
/// or three fixed ones.
fn fault_seeds() -> Vec<u64> {
    match std::env::var("WWCTL_TEST_FAULT_SEEDS") {
        Ok(text) => text
            .split(',')
            .map(|seed| {
                seed.trim()
                    .parse()
                    .unwrap_or_else(|_| panic!("WWCTL_TEST_FAULT_SEEDS: `{seed}` is not a number"))
            })
            .collect(),
        Err(_) => vec![7, 19, 42],
    }
}

#[tokio::test]
async fn faulty_api_ends_without_duplicates() {
    let Some(cloud) = TestCloud::from_env("faulty_api_ends_without_duplicates") else {
        return;
    };
    let runs = fault_seeds()
        .into_iter()
        .map(|seed| faulty_run(&cloud, seed));
    futures_util::future::join_all(runs).await;
}

/// Runs the calls of a migration on a new account under [`faults`]: zone,
/// SSH key, tag, three droplets with records, record updates, a firewall,
/// and shutdown, snapshot and power-on of one droplet. Then, with the faults
/// off, it asserts that each object exists exactly once.
async fn faulty_run(cloud: &TestCloud, seed: u64) {
    let account = cloud.account(&format!("client-faults-{seed}")).await;
    account
        .direct
        .put("/_sandbox/faults", faults(seed))
        .await
        .expect(200);
    let client = client(cloud, &account);
    let zone = format!("faults-{seed}-{}.example", rand::random::<u32>());
    let public_key = new_public_key();
    let names = ["lb", "app", "db"];

    client.ensure_domain(&zone).await.unwrap();
    client
        .ensure_ssh_key("wwctl-faults", &public_key)
        .await
        .unwrap();
    client.create_tag("wwctl-fleet:faults").await.unwrap();
    client
        .create_record(
            &zone,
            &RecordSpec::new(RecordType::TXT, "_wwctl", "run=faults", 300),
        )
        .await
        .unwrap();

    let mut ids = Vec::new();
    for name in names {
        let created = create_across_reruns(&client, &spec(name), "wwctl-run:faults").await;
        let ready = client
            .wait_until_ready(created.id(), created.create_action_id, POLL)
            .await
            .unwrap();
        let record = RecordSpec::new(RecordType::A, name, ready.public_ipv4.to_string(), 300);
        client.upsert_record(&zone, &record).await.unwrap();
        client.upsert_record(&zone, &record).await.unwrap();
        ids.push(ready.droplet.id);
    }

    for (index, name) in names.iter().enumerate() {
        let moved = RecordSpec::new(RecordType::A, *name, format!("192.0.2.{}", index + 50), 120);
        let change = client.upsert_record(&zone, &moved).await.unwrap();
        assert!(
            matches!(change, RecordChange::Updated { .. }),
            "seed {seed}: {change:?}"
        );
        let again = client.upsert_record(&zone, &moved).await.unwrap();
        assert!(
            matches!(again, RecordChange::Unchanged(_)),
            "seed {seed}: {again:?}"
        );
    }

    let firewall = FirewallSpec {
        name: format!("faults-{seed}-web"),
        inbound_rules: vec![InboundRule {
            protocol: "tcp".to_string(),
            ports: "443".to_string(),
            sources: RuleTargets {
                addresses: vec!["0.0.0.0/0".to_string()],
                ..RuleTargets::default()
            },
        }],
        outbound_rules: Vec::new(),
        droplet_ids: ids.clone(),
        tags: Vec::new(),
    };
    client.create_firewall(&firewall).await.unwrap();

    let db = ids[2];
    let snapshot_name = format!("faults-{seed}-db-final");
    let snapshot = DropletAction::Snapshot {
        name: snapshot_name.clone(),
    };
    for action in [DropletAction::Shutdown, snapshot, DropletAction::PowerOn] {
        let started = client.start_droplet_action(db, &action).await.unwrap();
        client.wait_for_action(started.id, POLL).await.unwrap();
    }

    account.direct.delete("/_sandbox/faults").await.expect(200);
    assert_each_exists_once(&client, seed, &zone, &names).await;

    let actions = client.droplet_actions(db).await.unwrap();
    for kind in ["shutdown", "snapshot", "power_on"] {
        let count = actions.iter().filter(|action| action.kind == kind).count();
        assert_eq!(
            count, 1,
            "seed {seed}: one `{kind}` action on db: {actions:?}"
        );
    }
    let snapshots = client.droplet_snapshots(db).await.unwrap();
    let named = snapshots
        .iter()
        .filter(|found| found.name == snapshot_name)
        .count();
    assert_eq!(
        named, 1,
        "seed {seed}: snapshot `{snapshot_name}` exists once: {snapshots:?}"
    );

    let keys = client.refresh_ssh_keys().await.unwrap();
    let same_key = keys
        .iter()
        .filter(|key| key.matches_public_key(&public_key))
        .count();
    assert_eq!(
        same_key, 1,
        "seed {seed}: the SSH key exists once: {keys:?}"
    );
    let firewalls = client.firewalls().await.unwrap();
    let same_name = firewalls
        .iter()
        .filter(|found| found.name == firewall.name)
        .count();
    assert_eq!(
        same_name, 1,
        "seed {seed}: firewall `{}` exists once",
        firewall.name
    );
}

/// Assert one droplet and one A record per name, and one TXT record.
async fn assert_each_exists_once(client: &CloudClient, seed: u64, zone: &str, names: &[&str]) {
    for name in names {
        assert_eq!(
            client.droplets_by_name(name).await.unwrap().len(),
            1,
            "seed {seed}: droplet `{name}` exists once"
        );
        let filter = RecordFilter {
            kind: Some(RecordType::A),
            name: Some(format!("{name}.{zone}")),
        };
        let records = client.records(zone, &filter).await.unwrap();
        assert_eq!(
            records.len(),
            1,
            "seed {seed}: record `{name}` exists once: {records:?}"
        );
    }
    let filter = RecordFilter {
        kind: Some(RecordType::TXT),
        name: Some("_wwctl".to_string()),
    };
    let records = client.records(zone, &filter).await.unwrap();
    assert_eq!(
        records.len(),
        1,
        "seed {seed}: the TXT record exists once: {records:?}"
    );
}

/// Create a droplet as the droplet step does across reruns. A create whose
/// POST failed ambiguously, with no droplet found afterwards, ends in
/// `CreateUnconfirmed` without a second POST. The step's rerun looks the
/// droplet up again before it posts.
async fn create_across_reruns(
    client: &CloudClient,
    spec: &DropletSpec,
    run_tag: &str,
) -> CreatedDroplet {
    const RUNS: usize = 4;
    for _ in 1..RUNS {
        match client.create_droplet(spec, run_tag).await {
            Ok(created) => return created,
            Err(CloudError::CreateUnconfirmed { .. }) => continue,
            Err(error) => panic!("creating `{}` failed: {error}", spec.name),
        }
    }
    client.create_droplet(spec, run_tag).await.unwrap()
}

fn new_public_key() -> String {
    let key =
        ssh_key::PrivateKey::random(&mut ssh_key::rand_core::OsRng, ssh_key::Algorithm::Ed25519)
            .unwrap();
    key.public_key().to_openssh().unwrap()
}
