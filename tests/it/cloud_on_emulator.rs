//! The real DigitalOcean client against the sandbox emulator, through Prism:
//! every request and answer is checked against the official spec, so a
//! client call that succeeds here spoke the real API's language.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use wwctl::clock::ScaledClock;
use wwctl::cloud::{
    CloudClient, CloudConfig, Deletion, DropletAction, DropletSpec, ImageRef, PollSettings,
    RecordChange, RecordFilter, RecordSpec, RecordType, RetryPolicy,
};
use wwctl::secret::Secret;

use crate::support::cloud::{Account, TestCloud};

const POLL: PollSettings = PollSettings::new(Duration::from_millis(200), Duration::from_secs(60));

/// A client for `account` through Prism, with short retry delays so faulty
/// runs finish quickly.
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

#[tokio::test]
async fn faulty_api_ends_without_duplicates() {
    let Some(cloud) = TestCloud::from_env("faulty_api_ends_without_duplicates") else {
        return;
    };
    let account = cloud.account("client-faults").await;
    account
        .direct
        .put(
            "/_sandbox/faults",
            json!({"rate_429": 0.2, "rate_5xx": 0.1, "seed": 7}),
        )
        .await
        .expect(200);
    let client = client(&cloud, &account);

    let zone = format!("faults-{}.example", rand::random::<u32>());
    client.ensure_domain(&zone).await.unwrap();
    for name in ["lb", "app", "db"] {
        let created = client
            .create_droplet(&spec(name), "wwctl-run:faults")
            .await
            .unwrap();
        let ready = client
            .wait_until_ready(created.id(), created.create_action_id, POLL)
            .await
            .unwrap();
        let record = RecordSpec::new(RecordType::A, name, ready.public_ipv4.to_string(), 300);
        client.upsert_record(&zone, &record).await.unwrap();
        client.upsert_record(&zone, &record).await.unwrap();
    }

    account.direct.delete("/_sandbox/faults").await;
    for name in ["lb", "app", "db"] {
        assert_eq!(
            client.droplets_by_name(name).await.unwrap().len(),
            1,
            "`{name}` exists once"
        );
        let records = client
            .records(
                &zone,
                &RecordFilter {
                    kind: Some(RecordType::A),
                    name: Some(format!("{name}.{zone}")),
                },
            )
            .await
            .unwrap();
        assert_eq!(records.len(), 1, "record `{name}` exists once");
    }
}
