//! A restarted emulator keeps its cloud: droplets, zones, records, keys,
//! tags, firewalls and id counters, with the same ids and values.

use std::time::Duration;

use hickory_proto::rr::RecordType;
use serde_json::{Value, json};

use crate::support::api::{Api, public_ipv4, test_public_key};
use crate::support::dns::{a_records, query_udp};
use crate::support::emulator::Emulator;

async fn snapshot_of(api: &Api) -> Vec<Value> {
    let mut bodies = Vec::new();
    for path in [
        "/v2/account",
        "/v2/droplets",
        "/v2/domains",
        "/v2/domains/restart.example/records",
        "/v2/account/keys",
        "/v2/tags",
        "/v2/snapshots",
        "/v2/actions",
    ] {
        bodies.push(api.get(path).await.expect(200).body);
    }
    bodies
}

#[tokio::test]
async fn restart_keeps_everything() {
    let mut emulator = Emulator::start(&[]);
    let api = emulator.account("restart").await;

    let created = api
        .post(
            "/v2/droplets",
            json!({ "name": "db-2022", "size": "s-1vcpu-2gb", "image": "debian-12-x64", "tags": ["db"] }),
        )
        .await
        .expect(202);
    let id = created.body["droplet"]["id"].as_u64().unwrap();
    let droplet = api
        .wait_droplet(id, Duration::from_secs(10), |d| public_ipv4(d).is_some())
        .await;
    let address = public_ipv4(&droplet).unwrap();

    api.post("/v2/domains", json!({ "name": "restart.example" }))
        .await
        .expect(201);
    let record = api
        .post(
            "/v2/domains/restart.example/records",
            json!({ "type": "A", "name": "db", "data": address, "ttl": 120 }),
        )
        .await
        .expect(201);
    let record_id = record.body["domain_record"]["id"].as_u64().unwrap();
    let key = test_public_key(3);
    api.post(
        "/v2/account/keys",
        json!({ "name": "ops", "public_key": key }),
    )
    .await
    .expect(201);
    let snapshot = api
        .post(
            &format!("/v2/droplets/{id}/actions"),
            json!({ "type": "snapshot" }),
        )
        .await
        .expect(201);
    api.wait_action(
        snapshot.body["action"]["id"].as_u64().unwrap(),
        Duration::from_secs(10),
    )
    .await;
    let before = snapshot_of(&api).await;

    let old_url = emulator.api_url.clone();
    emulator.restart();
    let api = emulator.client(&api.token);

    // Links carry the API's address, which changes with the new port.
    let before: Vec<Value> = before
        .iter()
        .map(|body| {
            let text = body.to_string().replace(&old_url, &emulator.api_url);
            serde_json::from_str(&text).unwrap()
        })
        .collect();
    let after = snapshot_of(&api).await;
    assert_eq!(before, after);
    let record = api
        .get(&format!("/v2/domains/restart.example/records/{record_id}"))
        .await
        .expect(200);
    assert_eq!(record.body["domain_record"]["data"], address.as_str());
    let answer = query_udp(emulator.dns, "db.restart.example.", RecordType::A);
    assert_eq!(a_records(&answer), [(address.clone(), 120)]);

    let next = api
        .post(
            "/v2/droplets",
            json!({ "name": "prod-2023", "size": "s-1vcpu-2gb", "image": "debian-12-x64" }),
        )
        .await
        .expect(202);
    let next_id = next.body["droplet"]["id"].as_u64().unwrap();
    assert!(
        next_id > id,
        "ids continue after a restart: {next_id} after {id}"
    );
}

#[tokio::test]
async fn restart_finishes_an_interrupted_boot() {
    let mut emulator = Emulator::start(&[]);
    let api = emulator.account("resume").await;
    api.put(
        "/_sandbox/settings",
        json!({ "boot_time": "1500ms", "ip_delay": "100ms" }),
    )
    .await
    .expect(200);
    let created = api
        .post(
            "/v2/droplets",
            json!({ "name": "web-9", "size": "s-1vcpu-1gb", "image": "debian-12-x64" }),
        )
        .await
        .expect(202);
    let id = created.body["droplet"]["id"].as_u64().unwrap();

    emulator.restart();
    let api = emulator.client(&api.token);
    let droplet = api.get(&format!("/v2/droplets/{id}")).await.expect(200);
    assert_eq!(droplet.body["droplet"]["status"], "new");
    let active = api
        .wait_droplet(id, Duration::from_secs(15), |d| public_ipv4(d).is_some())
        .await;
    assert_eq!(active["status"], "active");
}
