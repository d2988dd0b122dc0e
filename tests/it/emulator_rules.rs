//! DigitalOcean's validation rules and errors, sent straight to a private
//! emulator because Prism would reject most of these requests itself.

use reqwest::Method;
use serde_json::{Value, json};

use crate::support::api::Api;
use crate::support::emulator::Emulator;

fn droplet(name: &str) -> Value {
    json!({ "name": name, "size": "s-1vcpu-1gb", "image": "debian-12-x64" })
}

#[tokio::test]
async fn droplet_create_validation() {
    let emulator = Emulator::start(&[]);
    let api = emulator.account("rules").await;

    for name in ["web_1", "web 1", "web-", ""] {
        let reply = api.post("/v2/droplets", droplet(name)).await.expect(422);
        assert_eq!(reply.body["id"], "unprocessable_entity");
        assert_eq!(
            reply.body["message"],
            "Only valid hostname characters are allowed. (a-z, A-Z, 0-9, . and -)",
            "name {name:?}"
        );
    }

    let no_size = api
        .post(
            "/v2/droplets",
            json!({ "name": "a", "image": "debian-12-x64" }),
        )
        .await
        .expect(422);
    assert_eq!(
        no_size.body["message"],
        "You specified an invalid size for Droplet creation."
    );
    let no_image = api
        .post(
            "/v2/droplets",
            json!({ "name": "a", "size": "s-1vcpu-1gb" }),
        )
        .await
        .expect(422);
    assert_eq!(
        no_image.body["message"],
        "You specified an invalid image for Droplet creation."
    );
    let bad_region = api
        .post("/v2/droplets", json!({ "name": "a", "size": "s-1vcpu-1gb", "image": "debian-12-x64", "region": "mars1" }))
        .await
        .expect(422);
    assert_eq!(
        bad_region.body["message"],
        "You specified an invalid region for Droplet creation."
    );

    let mut too_big = droplet("big");
    too_big["user_data"] = json!("x".repeat(64 * 1024 + 1));
    api.post("/v2/droplets", too_big).await.expect(422);
    let mut just_fits = droplet("fits");
    just_fits["user_data"] = json!("x".repeat(64 * 1024));
    api.post("/v2/droplets", just_fits).await.expect(202);

    let not_json = api
        .send(Method::POST, "/v2/droplets", None)
        .await
        .expect("an answer");
    assert_eq!(
        not_json.status.as_u16(),
        422,
        "an empty body lacks name, size and image"
    );
}

#[tokio::test]
async fn errors_carry_request_ids_and_rate_headers() {
    let emulator = Emulator::start(&[]);
    let api = emulator.account("errors").await;

    let missing = api.get("/v2/droplets/12345").await.expect(404);
    let request_id = missing
        .header("x-request-id")
        .expect("an x-request-id header")
        .to_string();
    assert_eq!(missing.body["request_id"], request_id.as_str());
    assert_eq!(
        missing.body["message"],
        "The resource you were accessing could not be found."
    );
    for header in ["ratelimit-limit", "ratelimit-remaining", "ratelimit-reset"] {
        assert!(missing.header(header).is_some(), "{header} is missing");
    }

    let unknown_path = api.get("/v2/volcanoes").await.expect(404);
    assert_eq!(unknown_path.body["id"], "not_found");
    let not_a_number = api.get("/v2/droplets/abc").await.expect(404);
    assert_eq!(not_a_number.body["id"], "not_found");
}

#[tokio::test]
async fn tokens_open_isolated_accounts() {
    let emulator = Emulator::start(&[]);
    let alice = emulator.account("alice").await;
    let bob = emulator.account("bob").await;

    let created = alice
        .post("/v2/droplets", droplet("alice-1"))
        .await
        .expect(202);
    let id = created.body["droplet"]["id"].as_u64().unwrap();
    bob.get(&format!("/v2/droplets/{id}")).await.expect(404);
    assert_eq!(
        bob.get("/v2/droplets").await.expect(200).body["meta"]["total"],
        0
    );
    bob.delete(&format!("/v2/droplets/{id}")).await.expect(404);
    alice.get(&format!("/v2/droplets/{id}")).await.expect(200);

    let stranger = Api::new(&emulator.api_url, "dop_v1_0123456789", false);
    let refused = stranger.get("/v2/account").await.expect(401);
    assert_eq!(refused.body["id"], "unauthorized");
    assert_eq!(refused.body["message"], "Unable to authenticate you.");
    assert!(refused.header("ratelimit-limit").is_some());

    let admin = Api::new(&emulator.api_url, "not-sandbox", false);
    admin.get("/_sandbox/faults").await.expect(401);
    admin.get("/_sandbox/health").await.expect(200);
}

#[tokio::test]
async fn list_filters_and_page_size() {
    let emulator = Emulator::start(&[]);
    let api = emulator.account("filters").await;
    for number in 0..22 {
        api.post("/v2/droplets", droplet(&format!("node-{number}")))
            .await
            .expect(202);
    }

    let first = api.get("/v2/droplets").await.expect(200);
    assert_eq!(first.body["droplets"].as_array().unwrap().len(), 20);
    assert_eq!(first.body["meta"]["total"], 22);
    let clamped = api.get("/v2/droplets?per_page=1000").await.expect(200);
    assert_eq!(clamped.body["droplets"].as_array().unwrap().len(), 22);
    let by_name = api.get("/v2/droplets?name=NODE-3").await.expect(200);
    assert_eq!(by_name.body["meta"]["total"], 1);
    let combined = api
        .get("/v2/droplets?name=node-3&tag_name=x")
        .await
        .expect(422);
    assert_eq!(combined.body["id"], "unprocessable_entity");
    api.delete("/v2/droplets").await.expect(422);

    let over_limit = api
        .post(
            "/v2/droplets",
            json!({
                "names": ["a1", "a2", "a3", "a4"], "size": "s-1vcpu-1gb", "image": "debian-12-x64",
            }),
        )
        .await
        .expect(422);
    assert!(
        over_limit.body["message"]
            .as_str()
            .unwrap()
            .contains("droplet limit")
    );
}

#[tokio::test]
async fn record_rules() {
    let emulator = Emulator::start(&[]);
    let api = emulator.account("record-rules").await;
    api.post("/v2/domains", json!({ "name": "rules.example" }))
        .await
        .expect(201);
    let records = "/v2/domains/rules.example/records";

    let cases = [
        json!({ "type": "A", "name": "www", "data": "300.1.1.1" }),
        json!({ "type": "A", "name": "www", "data": "10.0.0.1", "ttl": 29 }),
        json!({ "type": "AAAA", "name": "www", "data": "10.0.0.1" }),
        json!({ "type": "CNAME", "name": "@", "data": "other.example." }),
        json!({ "type": "MX", "name": "@", "data": "mail.example." }),
        json!({ "type": "SRV", "name": "_x._tcp", "data": "x.example.", "priority": 1, "weight": 1 }),
        json!({ "type": "CAA", "name": "@", "data": "ca.example", "flags": 0, "tag": "bogus" }),
        json!({ "type": "SOA", "name": "@", "data": "1800" }),
        json!({ "type": "PTR", "name": "x", "data": "x.example." }),
        json!({ "type": "A", "name": "bad name", "data": "10.0.0.1" }),
    ];
    for body in cases {
        let reply = api.post(records, body.clone()).await;
        assert_eq!(
            reply.status.as_u16(),
            422,
            "{body} must be rejected: {}",
            reply.body
        );
    }

    api.post(
        records,
        json!({ "type": "A", "name": "www", "data": "10.0.0.1", "ttl": 30 }),
    )
    .await
    .expect(201);
    let clash = api
        .post(
            records,
            json!({ "type": "CNAME", "name": "www", "data": "@" }),
        )
        .await
        .expect(422);
    assert!(clash.body["message"].as_str().unwrap().contains("CNAME"));

    let unknown_domain = api
        .get("/v2/domains/nope.example/records")
        .await
        .expect(404);
    assert_eq!(unknown_domain.body["id"], "not_found");
    api.post("/v2/domains", json!({ "name": "localhost" }))
        .await
        .expect(422);
}

#[tokio::test]
async fn filler_droplets_and_route_stats() {
    let emulator = Emulator::start(&[]);
    let api = emulator.account("filler").await;
    api.put(
        "/_sandbox/settings",
        json!({ "droplet_limit": 60, "hostless_droplets": true }),
    )
    .await
    .expect(200);
    assert_eq!(
        api.get("/v2/account").await.expect(200).body["account"]["droplet_limit"],
        60
    );

    for batch in 0..5 {
        create_tagged(&api, &format!("filler-{batch}"), 10).await;
    }
    for batch in 0..5 {
        create_tagged(&api, &format!("extra-{batch}"), 2).await;
    }
    let over = api
        .post("/v2/droplets", droplet("one-too-many"))
        .await
        .expect(422);
    assert!(
        over.body["message"]
            .as_str()
            .unwrap()
            .contains("droplet limit of 60"),
        "{}",
        over.body
    );

    let first = api.get("/v2/droplets?per_page=1").await.expect(200);
    let id = first.body["droplets"][0]["id"].as_u64().unwrap();
    api.get(&format!("/v2/droplets/{id}")).await.expect(200);
    api.delete("/v2/droplets?tag_name=filler").await.expect(204);
    assert_eq!(
        api.get("/v2/droplets").await.expect(200).body["meta"]["total"],
        0
    );

    let stats = api.get("/_sandbox/stats").await.expect(200).body;
    assert_eq!(stats["routes"]["POST /v2/droplets"], 11, "{stats}");
    assert_eq!(stats["routes"]["GET /v2/droplets"], 2, "{stats}");
    assert_eq!(stats["routes"]["GET /v2/droplets/{id}"], 1, "{stats}");
    assert_eq!(stats["routes"]["DELETE /v2/droplets"], 1, "{stats}");
}

/// Creates `count` droplets named `prefix-N`, tagged `filler`, in one request.
async fn create_tagged(api: &Api, prefix: &str, count: usize) {
    let names: Vec<String> = (0..count).map(|n| format!("{prefix}-{n}")).collect();
    api.post(
        "/v2/droplets",
        json!({ "names": names, "size": "s-1vcpu-1gb", "image": "debian-12-x64", "tags": ["filler"] }),
    )
    .await
    .expect(202);
}
