//! The remaining endpoints: request shapes and lenient response reading.

use serde_json::{Value, json};
use wiremock::matchers::{body_json, method, path, query_param};
use wiremock::{Mock, ResponseTemplate};
use wwctl::cloud::{
    Deletion, DropletAction, FirewallSpec, InboundRule, OutboundRule, RecordPatch, RecordType,
    RuleTargets, TaggedResource,
};

use super::harness::{action_json, error_json, received, setup};

#[tokio::test]
async fn account_reads_token_owner() {
    let (server, _clock, client) = setup().await;
    Mock::given(method("GET"))
        .and(path("/v2/account"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"account": {
            "droplet_limit": 25, "email": "ops@example.com", "uuid": "b6fr89dbf6d9156cace5f3c78dc9851d957381ef",
            "email_verified": true, "status": "active", "status_message": " ", "team": {"uuid": "x", "name": "y"}
        }})))
        .mount(&server)
        .await;

    let account = client.account().await.unwrap();
    assert_eq!(account.email.as_deref(), Some("ops@example.com"));
    assert_eq!(account.droplet_limit, Some(25));
}

#[tokio::test]
async fn snapshot_ids_from_both_listings() {
    let (server, _clock, client) = setup().await;
    Mock::given(method("GET"))
        .and(path("/v2/droplets/111/snapshots"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "snapshots": [{"id": 6372321, "name": "app-final", "regions": ["nyc3"], "created_at": "2023-11-14T16:29:21Z", "min_disk_size": 25, "size_gigabytes": 2.34, "type": "snapshot"}],
            "links": {}, "meta": {"total": 1}
        })))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v2/snapshots"))
        .and(query_param("resource_type", "droplet"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "snapshots": [{"id": "6372321", "name": "app-final", "regions": ["nyc3"], "resource_id": "111", "resource_type": "droplet", "tags": null}],
            "meta": {"total": 1}
        })))
        .mount(&server)
        .await;
    Mock::given(method("DELETE"))
        .and(path("/v2/snapshots/6372321"))
        .respond_with(ResponseTemplate::new(204).insert_header("content-type", "application/json"))
        .mount(&server)
        .await;

    assert_eq!(
        client.droplet_snapshots(111).await.unwrap()[0].id,
        6_372_321
    );
    let all = client.snapshots(Some("droplet")).await.unwrap();
    assert_eq!(all[0].id, "6372321");
    assert_eq!(all[0].resource_id.as_deref(), Some("111"));
    assert_eq!(
        client.delete_snapshot(&all[0].id).await.unwrap(),
        Deletion::Deleted
    );
}

#[tokio::test]
async fn snapshot_action_body() {
    let (server, _clock, client) = setup().await;
    Mock::given(method("POST"))
        .and(path("/v2/droplets/111/actions"))
        .and(body_json(
            json!({"type": "snapshot", "name": "app-2022-final"}),
        ))
        .respond_with(
            ResponseTemplate::new(201)
                .set_body_json(json!({"action": action_json(42, "in-progress", "snapshot", 111)})),
        )
        .mount(&server)
        .await;

    let action = client
        .start_droplet_action(
            111,
            &DropletAction::Snapshot {
                name: "app-2022-final".into(),
            },
        )
        .await
        .unwrap();
    assert_eq!(action.kind, "snapshot");
}

#[tokio::test]
async fn firewall_create_update_delete() {
    let (server, _clock, client) = setup().await;
    let firewall = json!({
        "id": "bb4b2611-3d72-467b-8602-280330ecd65c", "name": "web", "status": "waiting",
        "inbound_rules": [{"protocol": "tcp", "ports": "443", "sources": {"addresses": ["0.0.0.0/0", "::/0"]}}],
        "outbound_rules": [{"protocol": "icmp", "ports": "0", "destinations": {"addresses": ["0.0.0.0/0"]}}],
        "created_at": "2023-11-14T22:13:20Z", "droplet_ids": [111], "tags": null,
        "pending_changes": [{"droplet_id": 111, "removing": false, "status": "waiting"}]
    });
    Mock::given(method("POST"))
        .and(path("/v2/firewalls"))
        .respond_with(ResponseTemplate::new(202).set_body_json(json!({"firewall": firewall})))
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .and(path("/v2/firewalls/bb4b2611-3d72-467b-8602-280330ecd65c"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"firewall": firewall})))
        .mount(&server)
        .await;
    Mock::given(method("DELETE"))
        .and(path("/v2/firewalls/bb4b2611-3d72-467b-8602-280330ecd65c"))
        .respond_with(ResponseTemplate::new(404).set_body_json(error_json(
            "not_found",
            "The resource you requested could not be found.",
        )))
        .mount(&server)
        .await;

    let spec = FirewallSpec {
        name: "web".into(),
        inbound_rules: vec![InboundRule {
            protocol: "tcp".into(),
            ports: "443".into(),
            sources: RuleTargets {
                addresses: vec!["0.0.0.0/0".into(), "::/0".into()],
                ..RuleTargets::default()
            },
        }],
        outbound_rules: vec![OutboundRule {
            protocol: "icmp".into(),
            ports: "0".into(),
            destinations: RuleTargets {
                addresses: vec!["0.0.0.0/0".into()],
                ..RuleTargets::default()
            },
        }],
        droplet_ids: vec![111],
        tags: Vec::new(),
    };
    let created = client.create_firewall(&spec).await.unwrap();
    assert_eq!(created.droplet_ids, vec![111]);
    assert!(created.tags.is_empty());

    client.update_firewall(&created.id, &spec).await.unwrap();
    let sent: Value = received(
        &server,
        "PUT",
        "/v2/firewalls/bb4b2611-3d72-467b-8602-280330ecd65c",
    )
    .await[0]
        .body_json()
        .unwrap();
    assert_eq!(
        sent["inbound_rules"][0]["sources"],
        json!({"addresses": ["0.0.0.0/0", "::/0"]})
    );
    assert_eq!(sent.get("tags"), None);

    assert_eq!(
        client.delete_firewall(&created.id).await.unwrap(),
        Deletion::AlreadyGone
    );
}

#[tokio::test]
async fn tag_and_domain_requests() {
    let (server, _clock, client) = setup().await;
    Mock::given(method("POST"))
        .and(path("/v2/tags"))
        .respond_with(
            ResponseTemplate::new(201).set_body_json(
                json!({"tag": {"name": "wwctl-fleet:2023", "resources": {"count": 0}}}),
            ),
        )
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v2/tags/wwctl-fleet:2023/resources"))
        .and(body_json(
            json!({"resources": [{"resource_id": "111", "resource_type": "droplet"}]}),
        ))
        .respond_with(ResponseTemplate::new(204))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v2/domains/wwdt.me"))
        .respond_with(ResponseTemplate::new(404).set_body_json(error_json(
            "not_found",
            "The resource you requested could not be found.",
        )))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v2/domains"))
        .and(body_json(json!({"name": "wwdt.me"})))
        .respond_with(
            ResponseTemplate::new(201).set_body_json(
                json!({"domain": {"name": "wwdt.me", "ttl": null, "zone_file": null}}),
            ),
        )
        .mount(&server)
        .await;
    Mock::given(method("PATCH"))
        .and(path("/v2/domains/wwdt.me/records/7"))
        .and(body_json(json!({"type": "A", "ttl": 60})))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"domain_record": {"id": 7, "type": "A", "name": "@", "data": "192.0.2.10", "ttl": 60}})))
        .mount(&server)
        .await;
    Mock::given(method("DELETE"))
        .and(path("/v2/domains/wwdt.me/records/7"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&server)
        .await;

    assert_eq!(
        client.create_tag("wwctl-fleet:2023").await.unwrap().name,
        "wwctl-fleet:2023"
    );
    client
        .tag_resources("wwctl-fleet:2023", &[TaggedResource::droplet(111)])
        .await
        .unwrap();
    assert_eq!(
        client.ensure_domain("wwdt.me.").await.unwrap().name,
        "wwdt.me"
    );

    let patch = RecordPatch {
        kind: RecordType::A,
        data: None,
        ttl: Some(60),
    };
    assert_eq!(
        client.patch_record("wwdt.me", 7, &patch).await.unwrap().ttl,
        Some(60)
    );
    assert_eq!(
        client.delete_record("wwdt.me", 7).await.unwrap(),
        Deletion::Deleted
    );
}
