//! POSTs that fail ambiguously (a 5xx, a reset connection) look up what
//! they would have created, adopt it, and post again only when it is
//! missing: one case set per operation, against [`PostFake`].

use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};
use wwctl::cloud::{
    CloudError, DropletAction, FirewallSpec, InboundRule, RecordChange, RecordSpec, RecordType,
    RuleTargets,
};

use super::harness::{Sequence, action_json, error_json, received, secs, setup};
use super::post_fake::{Answer, PostFake, mount_get, mount_list};

/// The manual clock's start, as the API writes times.
const START_TIME: &str = "2023-11-14T22:13:20Z";

const PUBLIC_KEY: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIG5YWoO3+I0SYtypeaOAMZcM6T6r8tpIgMsDWwd5ee7g test@example";

/// `ssh-keygen -l -E md5` of [`PUBLIC_KEY`].
const FINGERPRINT: &str = "e5:0d:23:26:c0:2d:13:8d:97:a0:02:c6:cb:67:c1:93";

fn domain(body: &Value, _id: u64) -> Value {
    json!({"name": body["name"], "ttl": 1800, "zone_file": null})
}

fn record(body: &Value, id: u64) -> Value {
    json!({
        "id": id, "type": body["type"], "name": body["name"], "data": body["data"],
        "ttl": body["ttl"], "priority": null, "port": null, "weight": null,
        "flags": null, "tag": null
    })
}

fn started_action(body: &Value, id: u64) -> Value {
    action_json(id, "in-progress", body["type"].as_str().unwrap(), 111)
}

fn ssh_key(body: &Value, id: u64) -> Value {
    json!({"id": id, "fingerprint": FINGERPRINT, "public_key": body["public_key"], "name": body["name"]})
}

fn firewall(body: &Value, id: u64) -> Value {
    json!({
        "id": format!("fb6045f1-cf1d-4ca3-bfac-18832663{id:04}"), "name": body["name"],
        "status": "waiting", "created_at": START_TIME, "droplet_ids": [], "tags": [],
        "inbound_rules": body["inbound_rules"], "outbound_rules": [], "pending_changes": []
    })
}

fn www() -> RecordSpec {
    RecordSpec::new(RecordType::A, "www", "192.0.2.10", 300)
}

fn firewall_spec() -> FirewallSpec {
    FirewallSpec {
        name: "wwctl-web".to_string(),
        inbound_rules: vec![InboundRule {
            protocol: "tcp".to_string(),
            ports: "443".to_string(),
            sources: RuleTargets {
                addresses: vec!["0.0.0.0/0".to_string()],
                ..RuleTargets::default()
            },
        }],
        outbound_rules: Vec::new(),
        droplet_ids: Vec::new(),
        tags: Vec::new(),
    }
}

// Domains.

#[tokio::test]
async fn domain_500_after_create_is_adopted() {
    let (server, clock, client) = setup().await;
    let fake = PostFake::new(1, Vec::new());
    fake.mount_post(
        &server,
        "/v2/domains",
        "domain",
        201,
        &[Answer::StoredThen500],
        domain,
    )
    .await;
    mount_get(&server, "/v2/domains/wwdt.me", "domain", &fake, |_| true).await;

    let created = client.ensure_domain("wwdt.me").await.unwrap();
    assert_eq!(created.name, "wwdt.me");
    assert_eq!(received(&server, "POST", "/v2/domains").await.len(), 1);
    assert_eq!(fake.objects().len(), 1);
    assert!(clock.sleeps().is_empty());
}

#[tokio::test]
async fn domain_unprocessed_503_is_posted_again() {
    let (server, clock, client) = setup().await;
    let fake = PostFake::new(1, Vec::new());
    let answers = [Answer::Unprocessed503, Answer::Created];
    fake.mount_post(&server, "/v2/domains", "domain", 201, &answers, domain)
        .await;
    mount_get(&server, "/v2/domains/wwdt.me", "domain", &fake, |_| true).await;

    let created = client.ensure_domain("wwdt.me").await.unwrap();
    assert_eq!(created.name, "wwdt.me");
    assert_eq!(received(&server, "POST", "/v2/domains").await.len(), 2);
    assert_eq!(fake.objects().len(), 1);
    assert_eq!(clock.sleeps(), secs(&[1]));
}

#[tokio::test]
async fn domain_422_on_retry_adopts_late_listing() {
    let (server, clock, client) = setup().await;
    let fake = PostFake::new(1, Vec::new());
    let answers = [
        Answer::StoredThen500,
        Answer::Rejected("the domain `wwdt.me` already exists"),
    ];
    fake.mount_post(&server, "/v2/domains", "domain", 201, &answers, domain)
        .await;
    mount_get(&server, "/v2/domains/wwdt.me", "domain", &fake, |_| true).await;
    fake.hide_from_lookups(1);

    let created = client.create_domain("wwdt.me", None).await.unwrap();
    assert_eq!(created.name, "wwdt.me");
    assert_eq!(received(&server, "POST", "/v2/domains").await.len(), 2);
    assert_eq!(
        received(&server, "GET", "/v2/domains/wwdt.me").await.len(),
        2
    );
    assert_eq!(fake.objects().len(), 1);
    assert_eq!(clock.sleeps(), secs(&[1]));
}

#[tokio::test]
async fn domain_422_on_first_post_is_an_error() {
    let (server, _clock, client) = setup().await;
    let fake = PostFake::new(1, Vec::new());
    let answers = [Answer::Rejected("the domain `wwdt.me` already exists")];
    fake.mount_post(&server, "/v2/domains", "domain", 201, &answers, domain)
        .await;
    mount_get(&server, "/v2/domains/wwdt.me", "domain", &fake, |_| true).await;

    let error = client.create_domain("wwdt.me", None).await.unwrap_err();
    assert!(matches!(error, CloudError::Validation { .. }), "{error:?}");
    assert!(error.to_string().contains("already exists"), "{error}");
    assert_eq!(received(&server, "POST", "/v2/domains").await.len(), 1);
    assert!(
        received(&server, "GET", "/v2/domains/wwdt.me")
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn domain_retries_run_out_with_full_error() {
    let (server, clock, client) = setup().await;
    let fake = PostFake::new(1, Vec::new());
    fake.mount_post(
        &server,
        "/v2/domains",
        "domain",
        201,
        &[Answer::Unprocessed503],
        domain,
    )
    .await;
    mount_get(&server, "/v2/domains/wwdt.me", "domain", &fake, |_| true).await;

    let error = client.create_domain("wwdt.me", None).await.unwrap_err();
    assert!(matches!(error, CloudError::Server { .. }), "{error:?}");
    assert_eq!(error.status(), Some(503));
    let text = error.to_string();
    assert!(text.contains("`POST /v2/domains`"), "{text}");
    assert!(text.contains("HTTP 503 service_unavailable"), "{text}");
    assert!(text.contains("Service unavailable"), "{text}");
    assert!(text.contains("x-request-id req-503"), "{text}");
    assert!(text.contains("after 5 attempts"), "{text}");
    assert_eq!(received(&server, "POST", "/v2/domains").await.len(), 5);
    assert_eq!(
        received(&server, "GET", "/v2/domains/wwdt.me").await.len(),
        5
    );
    assert_eq!(clock.sleeps(), secs(&[1, 2, 4, 8]));
    assert!(fake.objects().is_empty());
}

#[tokio::test]
async fn failed_lookup_is_unconfirmed() {
    let (server, _clock, client) = setup().await;
    let fake = PostFake::new(1, Vec::new());
    fake.mount_post(
        &server,
        "/v2/domains",
        "domain",
        201,
        &[Answer::StoredThen500],
        domain,
    )
    .await;
    Mock::given(method("GET"))
        .and(path("/v2/domains/wwdt.me"))
        .respond_with(ResponseTemplate::new(403).set_body_json(error_json(
            "forbidden",
            "You do not have permission to perform this action.",
        )))
        .mount(&server)
        .await;

    let error = client.create_domain("wwdt.me", None).await.unwrap_err();
    assert!(matches!(error, CloudError::Unconfirmed { .. }), "{error:?}");
    let text = error.to_string();
    assert!(
        text.contains("`POST /v2/domains` may have created domain `wwdt.me`"),
        "{text}"
    );
    assert!(text.contains("HTTP 403 forbidden"), "{text}");
    let post_error = std::error::Error::source(&error).unwrap().to_string();
    assert!(post_error.contains("HTTP 500 server_error"), "{post_error}");
    assert!(post_error.contains("req-stored-500"), "{post_error}");
    assert_eq!(received(&server, "POST", "/v2/domains").await.len(), 1);
}

#[tokio::test]
async fn post_429_is_retried_without_lookup() {
    let (server, clock, client) = setup().await;
    Mock::given(method("POST"))
        .and(path("/v2/domains"))
        .respond_with(Sequence::new(vec![
            ResponseTemplate::new(429)
                .insert_header("retry-after", "3")
                .set_body_json(error_json("too_many_requests", "API rate limit exceeded.")),
            ResponseTemplate::new(201).set_body_json(
                json!({"domain": {"name": "wwdt.me", "ttl": 1800, "zone_file": null}}),
            ),
        ]))
        .mount(&server)
        .await;

    let created = client.create_domain("wwdt.me", None).await.unwrap();
    assert_eq!(created.name, "wwdt.me");
    assert_eq!(received(&server, "POST", "/v2/domains").await.len(), 2);
    assert!(
        received(&server, "GET", "/v2/domains/wwdt.me")
            .await
            .is_empty()
    );
    assert_eq!(clock.sleeps(), secs(&[3]));
}

// Records.

#[tokio::test]
async fn record_500_after_create_is_adopted() {
    let (server, clock, client) = setup().await;
    let fake = PostFake::new(7001, Vec::new());
    let records = "/v2/domains/wwdt.me/records";
    fake.mount_post(
        &server,
        records,
        "domain_record",
        201,
        &[Answer::StoredThen500],
        record,
    )
    .await;
    mount_list(&server, records, "domain_records", &fake).await;

    let change = client.upsert_record("wwdt.me", &www()).await.unwrap();
    let RecordChange::Created(created) = change else {
        panic!("expected a created record: {change:?}");
    };
    assert_eq!(created.id, 7001);
    assert_eq!(received(&server, "POST", records).await.len(), 1);
    assert_eq!(fake.objects().len(), 1);
    assert!(clock.sleeps().is_empty());
}

#[tokio::test]
async fn record_reset_before_processing_is_posted_again() {
    let (server, clock, client) = setup().await;
    let fake = PostFake::new(7001, Vec::new());
    let records = "/v2/domains/wwdt.me/records";
    let answers = [Answer::ResetUnprocessed, Answer::Created];
    fake.mount_post(&server, records, "domain_record", 201, &answers, record)
        .await;
    mount_list(&server, records, "domain_records", &fake).await;

    let created = client.create_record("wwdt.me", &www()).await.unwrap();
    assert_eq!(created.data.as_deref(), Some("192.0.2.10"));
    assert_eq!(received(&server, "POST", records).await.len(), 2);
    assert_eq!(fake.objects().len(), 1);
    assert_eq!(clock.sleeps(), secs(&[1]));
}

#[tokio::test]
async fn record_reset_after_create_is_adopted() {
    let (server, _clock, client) = setup().await;
    let fake = PostFake::new(7001, Vec::new());
    let records = "/v2/domains/wwdt.me/records";
    fake.mount_post(
        &server,
        records,
        "domain_record",
        201,
        &[Answer::StoredThenReset],
        record,
    )
    .await;
    mount_list(&server, records, "domain_records", &fake).await;

    let created = client.create_record("wwdt.me", &www()).await.unwrap();
    assert_eq!(created.id, 7001);
    assert_eq!(received(&server, "POST", records).await.len(), 1);
    assert_eq!(fake.objects().len(), 1);
}

#[tokio::test]
async fn record_with_other_data_is_not_adopted() {
    let (server, _clock, client) = setup().await;
    let other = json!({
        "id": 1, "type": "A", "name": "www", "data": "192.0.2.99", "ttl": 300,
        "priority": null, "port": null, "weight": null, "flags": null, "tag": null
    });
    let fake = PostFake::new(7001, vec![other]);
    let records = "/v2/domains/wwdt.me/records";
    let answers = [Answer::Unprocessed503, Answer::Created];
    fake.mount_post(&server, records, "domain_record", 201, &answers, record)
        .await;
    mount_list(&server, records, "domain_records", &fake).await;

    let created = client.create_record("wwdt.me", &www()).await.unwrap();
    assert_eq!(created.id, 7001);
    assert_eq!(received(&server, "POST", records).await.len(), 2);
    assert_eq!(fake.objects().len(), 2);
}

#[tokio::test]
async fn record_resets_run_out_with_network_error() {
    let (server, clock, client) = setup().await;
    let fake = PostFake::new(7001, Vec::new());
    let records = "/v2/domains/wwdt.me/records";
    let answers = [Answer::ResetUnprocessed; 5];
    fake.mount_post(&server, records, "domain_record", 201, &answers, record)
        .await;
    mount_list(&server, records, "domain_records", &fake).await;

    let error = client.create_record("wwdt.me", &www()).await.unwrap_err();
    assert!(
        matches!(error, CloudError::Network { attempts: 5, .. }),
        "{error:?}"
    );
    let text = error.to_string();
    assert!(
        text.contains("`POST /v2/domains/wwdt.me/records` failed after 5 attempts"),
        "{text}"
    );
    assert_eq!(received(&server, "POST", records).await.len(), 5);
    assert_eq!(clock.sleeps(), secs(&[1, 2, 4, 8]));
    assert!(fake.objects().is_empty());
}

// Droplet actions.

const ACTIONS: &str = "/v2/droplets/111/actions";

#[tokio::test]
async fn action_500_after_start_is_adopted() {
    let (server, clock, client) = setup().await;
    let fake = PostFake::new(9001, Vec::new());
    fake.mount_post(
        &server,
        ACTIONS,
        "action",
        201,
        &[Answer::StoredThen500],
        started_action,
    )
    .await;
    mount_list(&server, ACTIONS, "actions", &fake).await;

    let action = client
        .start_droplet_action(111, &DropletAction::Shutdown)
        .await
        .unwrap();
    assert_eq!(action.id, 9001);
    assert_eq!(action.kind, "shutdown");
    assert_eq!(received(&server, "POST", ACTIONS).await.len(), 1);
    assert_eq!(fake.objects().len(), 1);
    assert!(clock.sleeps().is_empty());
}

#[tokio::test]
async fn pending_event_after_500_adopts_late_listing() {
    let (server, clock, client) = setup().await;
    let fake = PostFake::new(9001, Vec::new());
    let answers = [
        Answer::StoredThen500,
        Answer::Rejected("Droplet already has a pending event."),
    ];
    fake.mount_post(&server, ACTIONS, "action", 201, &answers, started_action)
        .await;
    mount_list(&server, ACTIONS, "actions", &fake).await;
    fake.hide_from_lookups(1);

    let action = client
        .start_droplet_action(111, &DropletAction::PowerOff)
        .await
        .unwrap();
    assert_eq!(action.id, 9001);
    assert_eq!(received(&server, "POST", ACTIONS).await.len(), 2);
    assert_eq!(received(&server, "GET", ACTIONS).await.len(), 2);
    assert_eq!(fake.objects().len(), 1);
    assert_eq!(clock.sleeps(), secs(&[1]));
}

#[tokio::test]
async fn older_action_of_same_type_is_not_adopted() {
    let (server, clock, client) = setup().await;
    let mut older = action_json(900, "completed", "power_on", 111);
    older["started_at"] = json!("2023-11-14T21:13:20Z");
    let fake = PostFake::new(9001, vec![older]);
    let answers = [Answer::Unprocessed503, Answer::Created];
    fake.mount_post(&server, ACTIONS, "action", 201, &answers, started_action)
        .await;
    mount_list(&server, ACTIONS, "actions", &fake).await;

    let action = client
        .start_droplet_action(111, &DropletAction::PowerOn)
        .await
        .unwrap();
    assert_eq!(action.id, 9001);
    assert_eq!(received(&server, "POST", ACTIONS).await.len(), 2);
    assert_eq!(fake.objects().len(), 2);
    assert_eq!(clock.sleeps(), secs(&[1]));
}

#[tokio::test]
async fn snapshot_found_by_name_is_adopted() {
    let (server, _clock, client) = setup().await;
    let fake = PostFake::new(9001, Vec::new());
    // The action lists no start time, so only the snapshot shows that it ran.
    let finished_snapshot = |body: &Value, id: u64| {
        let mut action = action_json(id, "completed", body["type"].as_str().unwrap(), 111);
        action["started_at"] = Value::Null;
        action["completed_at"] = json!("2023-11-14T22:14:20Z");
        action
    };
    fake.mount_post(
        &server,
        ACTIONS,
        "action",
        201,
        &[Answer::StoredThen500],
        finished_snapshot,
    )
    .await;
    mount_list(&server, ACTIONS, "actions", &fake).await;
    Mock::given(method("GET"))
        .and(path("/v2/droplets/111/snapshots"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "snapshots": [{
                "id": 6372321, "name": "app-2022-final", "created_at": "2023-11-14T22:14:20Z",
                "regions": ["nyc3"], "min_disk_size": 25, "size_gigabytes": 2.34, "type": "snapshot"
            }],
            "links": {}, "meta": {"total": 1}
        })))
        .mount(&server)
        .await;

    let snapshot = DropletAction::Snapshot {
        name: "app-2022-final".to_string(),
    };
    let action = client.start_droplet_action(111, &snapshot).await.unwrap();
    assert_eq!(action.id, 9001);
    assert_eq!(received(&server, "POST", ACTIONS).await.len(), 1);
    assert_eq!(
        received(&server, "GET", "/v2/droplets/111/snapshots")
            .await
            .len(),
        1
    );
}

// SSH keys.

#[tokio::test]
async fn ssh_key_reset_after_create_is_adopted() {
    let (server, _clock, client) = setup().await;
    let fake = PostFake::new(512190, Vec::new());
    let keys = "/v2/account/keys";
    fake.mount_post(
        &server,
        keys,
        "ssh_key",
        201,
        &[Answer::StoredThenReset],
        ssh_key,
    )
    .await;
    let by_fingerprint = format!("{keys}/{FINGERPRINT}");
    mount_get(&server, &by_fingerprint, "ssh_key", &fake, |_| true).await;

    let key = client.create_ssh_key("wwctl", PUBLIC_KEY).await.unwrap();
    assert_eq!(key.id, 512190);
    assert_eq!(received(&server, "POST", keys).await.len(), 1);
    assert_eq!(received(&server, "GET", &by_fingerprint).await.len(), 1);
    assert!(received(&server, "GET", keys).await.is_empty());
    assert_eq!(fake.objects().len(), 1);
}

#[tokio::test]
async fn ssh_key_in_use_on_retry_is_adopted() {
    let (server, clock, client) = setup().await;
    let fake = PostFake::new(512190, Vec::new());
    let keys = "/v2/account/keys";
    let answers = [
        Answer::StoredThen500,
        Answer::Rejected("SSH Key is already in use on your account"),
    ];
    fake.mount_post(&server, keys, "ssh_key", 201, &answers, ssh_key)
        .await;
    mount_get(
        &server,
        &format!("{keys}/{FINGERPRINT}"),
        "ssh_key",
        &fake,
        |_| true,
    )
    .await;
    fake.hide_from_lookups(1);

    let key = client.create_ssh_key("wwctl", PUBLIC_KEY).await.unwrap();
    assert_eq!(key.id, 512190);
    assert_eq!(received(&server, "POST", keys).await.len(), 2);
    assert_eq!(fake.objects().len(), 1);
    assert_eq!(clock.sleeps(), secs(&[1]));
}

// Tags and firewalls.

#[tokio::test]
async fn tag_create_503_is_retried() {
    let (server, clock, client) = setup().await;
    let fake = PostFake::new(1, Vec::new());
    let answers = [Answer::Unprocessed503, Answer::Created];
    let tag = |body: &Value, _id: u64| json!({"name": body["name"], "resources": {"count": 0}});
    fake.mount_post(&server, "/v2/tags", "tag", 201, &answers, tag)
        .await;

    let created = client.create_tag("wwctl-fleet:2023").await.unwrap();
    assert_eq!(created.name, "wwctl-fleet:2023");
    assert_eq!(received(&server, "POST", "/v2/tags").await.len(), 2);
    assert_eq!(clock.sleeps(), secs(&[1]));
}

#[tokio::test]
async fn tag_422_is_success_when_tag_exists() {
    let (server, _clock, client) = setup().await;
    let existing = json!({"name": "wwctl-fleet:2023", "resources": {"count": 1}});
    let fake = PostFake::new(1, vec![existing]);
    let tag = |body: &Value, _id: u64| json!({"name": body["name"]});
    let answers = [Answer::Rejected("tag already exists")];
    fake.mount_post(&server, "/v2/tags", "tag", 201, &answers, tag)
        .await;
    mount_get(&server, "/v2/tags/wwctl-fleet:2023", "tag", &fake, |_| true).await;

    let found = client.create_tag("wwctl-fleet:2023").await.unwrap();
    assert_eq!(found.name, "wwctl-fleet:2023");

    let error = client.create_tag("wwctl-other").await.unwrap_err();
    assert!(matches!(error, CloudError::Validation { .. }), "{error:?}");
    assert!(error.to_string().contains("tag already exists"), "{error}");
}

#[tokio::test]
async fn firewall_500_after_create_is_adopted_by_name() {
    let (server, clock, client) = setup().await;
    let fake = PostFake::new(1, Vec::new());
    fake.mount_post(
        &server,
        "/v2/firewalls",
        "firewall",
        202,
        &[Answer::StoredThen500],
        firewall,
    )
    .await;
    mount_list(&server, "/v2/firewalls", "firewalls", &fake).await;

    let created = client.create_firewall(&firewall_spec()).await.unwrap();
    assert_eq!(created.name, "wwctl-web");
    assert_eq!(received(&server, "POST", "/v2/firewalls").await.len(), 1);
    assert_eq!(fake.objects().len(), 1);
    assert!(clock.sleeps().is_empty());
}

#[tokio::test]
async fn firewall_name_twice_is_ambiguous() {
    let (server, _clock, client) = setup().await;
    let existing = firewall(&json!({"name": "wwctl-web", "inbound_rules": []}), 1);
    let fake = PostFake::new(2, vec![existing]);
    fake.mount_post(
        &server,
        "/v2/firewalls",
        "firewall",
        202,
        &[Answer::StoredThen500],
        firewall,
    )
    .await;
    mount_list(&server, "/v2/firewalls", "firewalls", &fake).await;

    let error = client.create_firewall(&firewall_spec()).await.unwrap_err();
    let CloudError::Unconfirmed { lookup, .. } = &error else {
        panic!("expected an unconfirmed create: {error:?}");
    };
    assert!(
        matches!(**lookup, CloudError::Ambiguous { count: 2, .. }),
        "{lookup:?}"
    );
    assert!(error.to_string().contains("wwctl-web"), "{error}");
    assert_eq!(received(&server, "POST", "/v2/firewalls").await.len(), 1);
}
