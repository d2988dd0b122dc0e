//! The emulator against DigitalOcean's OpenAPI spec: every endpoint and
//! status the client uses, sent through Prism, which validates requests and
//! responses and must report no violation.

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::api::{Reply, public_ipv4, test_public_key};
use crate::support::cloud::TestCloud;

const WAIT: Duration = Duration::from_secs(15);

fn droplet_request(name: &str) -> Value {
    json!({
        "name": name,
        "size": "s-1vcpu-1gb",
        "image": "debian-12-x64",
        "region": "sfo3",
    })
}

fn unique_domain(label: &str) -> String {
    let suffix: u32 = rand::random();
    format!("{label}-{suffix:08x}.example.com")
}

fn id_of(value: &Value) -> u64 {
    value["id"]
        .as_u64()
        .unwrap_or_else(|| panic!("no integer id in {value}"))
}

fn assert_rate_headers(reply: &Reply) {
    let number = |name: &str| {
        reply
            .header(name)
            .unwrap_or_else(|| panic!("header {name} is missing"))
            .parse::<i64>()
            .unwrap_or_else(|_| panic!("header {name} is not an integer"))
    };
    assert_eq!(number("ratelimit-limit"), 5000);
    assert!(number("ratelimit-remaining") < 5000);
    assert!(number("ratelimit-reset") > 1_700_000_000);
    let request_id = reply
        .header("x-request-id")
        .expect("an x-request-id header");
    assert_eq!(request_id.len(), 36, "x-request-id is a UUID");
}

#[tokio::test]
async fn contract_droplet_lifecycle() {
    let Some(cloud) = TestCloud::from_env("contract_droplet_lifecycle") else {
        return;
    };
    let account = cloud.account("droplets").await;
    let api = &account.api;

    let me = api.get("/v2/account").await.expect(200);
    assert_eq!(me.body["account"]["status"], "active");
    assert_rate_headers(&me);

    let mut request = droplet_request("web-1");
    request["tags"] = json!(["web", "env:test"]);
    let created = api.post("/v2/droplets", request).await.expect(202);
    assert_rate_headers(&created);
    let droplet = &created.body["droplet"];
    let id = id_of(droplet);
    assert_eq!(droplet["status"], "new");
    assert_eq!(droplet["networks"]["v4"], json!([]));
    let link = &created.body["links"]["actions"][0];
    assert_eq!(link["rel"], "create");
    assert!(
        link["href"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/v2/actions/{}", id_of(link)))
    );

    let mut batch = json!({
        "names": ["batch-1", "batch-2"],
        "size": "s-1vcpu-2gb",
        "image": "debian-12-x64",
        "tags": ["batch"],
    });
    let created = api.post("/v2/droplets", batch.take()).await.expect(202);
    assert_eq!(created.body["droplets"].as_array().unwrap().len(), 2);
    assert_eq!(
        created.body["links"]["actions"].as_array().unwrap().len(),
        2
    );

    let active = api
        .wait_droplet(id, WAIT, |d| public_ipv4(d).is_some())
        .await;
    assert_eq!(active["status"], "active");
    assert_eq!(active["networks"]["v4"][0]["type"], "private");
    assert!(public_ipv4(&active).unwrap().starts_with("10.77."));

    let by_name = api.get("/v2/droplets?name=WEB-1").await.expect(200);
    assert_eq!(by_name.body["meta"]["total"], 1);
    assert_eq!(by_name.body["droplets"][0]["id"], id);
    let by_tag = api.get("/v2/droplets?tag_name=web").await.expect(200);
    assert_eq!(by_tag.body["meta"]["total"], 1);
    let all = api.get("/v2/droplets").await.expect(200);
    assert_eq!(all.body["meta"]["total"], 3);

    let combined = api
        .get("/v2/droplets?tag_name=web&name=web-1")
        .await
        .expect(422);
    assert_eq!(combined.body["id"], "unprocessable_entity");
    let missing = api.get("/v2/droplets/1").await.expect(404);
    assert_eq!(missing.body["id"], "not_found");

    api.delete(&format!("/v2/droplets/{id}")).await.expect(204);
    api.get(&format!("/v2/droplets/{id}")).await.expect(404);
    api.delete(&format!("/v2/droplets/{id}")).await.expect(404);

    api.delete("/v2/droplets?tag_name=batch").await.expect(204);
    let left = api.get("/v2/droplets?tag_name=batch").await.expect(200);
    assert_eq!(left.body["meta"]["total"], 0);
}

#[tokio::test]
async fn contract_droplet_actions_and_snapshots() {
    let Some(cloud) = TestCloud::from_env("contract_droplet_actions_and_snapshots") else {
        return;
    };
    let mut settings = crate::support::api::fast_settings();
    // Long enough that a loaded machine still sends the second request
    // while the droplet boots or the first action runs.
    settings["boot_time"] = json!("2s");
    settings["action_duration"] = json!("3s");
    let account = cloud.account_with("actions", settings).await;
    let api = &account.api;
    let created = api
        .post("/v2/droplets", droplet_request("act-1"))
        .await
        .expect(202);
    let id = id_of(&created.body["droplet"]);

    let early = api
        .post(
            &format!("/v2/droplets/{id}/actions"),
            json!({ "type": "power_off" }),
        )
        .await
        .expect(422);
    assert_eq!(
        early.body["message"],
        "Droplet already has a pending event."
    );
    api.wait_droplet(id, WAIT, |d| d["status"] == "active")
        .await;

    let action = api
        .post(
            &format!("/v2/droplets/{id}/actions"),
            json!({ "type": "power_off" }),
        )
        .await
        .expect(201)
        .body["action"]
        .clone();
    assert_eq!(action["status"], "in-progress");
    assert_eq!(action["type"], "power_off");
    assert_eq!(action["resource_id"], id);
    let locked = api.get(&format!("/v2/droplets/{id}")).await.expect(200);
    assert_eq!(locked.body["droplet"]["locked"], true);
    let refused = api
        .post(
            &format!("/v2/droplets/{id}/actions"),
            json!({ "type": "shutdown" }),
        )
        .await
        .expect(422);
    assert_eq!(
        refused.body["message"],
        "Droplet already has a pending event."
    );

    let action_id = id_of(&action);
    let same = api
        .get(&format!("/v2/droplets/{id}/actions/{action_id}"))
        .await
        .expect(200);
    assert_eq!(same.body["action"]["id"], action_id);
    let done = api.wait_action(action_id, WAIT).await;
    assert_eq!(done["status"], "completed");
    assert!(done["completed_at"].is_string());
    let off = api
        .get(&format!("/v2/droplets/{id}"))
        .await
        .expect(200)
        .body["droplet"]
        .clone();
    assert_eq!(off["status"], "off");
    assert_eq!(off["locked"], false);

    let power_on = api
        .post(
            &format!("/v2/droplets/{id}/actions"),
            json!({ "type": "power_on" }),
        )
        .await
        .expect(201);
    api.wait_action(id_of(&power_on.body["action"]), WAIT).await;
    api.wait_droplet(id, WAIT, |d| d["status"] == "active")
        .await;

    let snapshot = api
        .post(
            &format!("/v2/droplets/{id}/actions"),
            json!({ "type": "snapshot", "name": "act-1-before-move" }),
        )
        .await
        .expect(201);
    let snapshot_action = api.wait_action(id_of(&snapshot.body["action"]), WAIT).await;
    assert_eq!(snapshot_action["status"], "completed");

    let of_droplet = api
        .get(&format!("/v2/droplets/{id}/snapshots"))
        .await
        .expect(200);
    let snapshot_id = id_of(&of_droplet.body["snapshots"][0]);
    assert_eq!(of_droplet.body["snapshots"][0]["name"], "act-1-before-move");
    let all = api
        .get("/v2/snapshots?resource_type=droplet")
        .await
        .expect(200);
    assert_eq!(all.body["snapshots"][0]["id"], snapshot_id.to_string());
    assert_eq!(all.body["snapshots"][0]["resource_id"], id.to_string());
    let droplet = api.get(&format!("/v2/droplets/{id}")).await.expect(200);
    assert_eq!(
        droplet.body["droplet"]["snapshot_ids"],
        json!([snapshot_id])
    );
    api.get(&format!("/v2/snapshots/{snapshot_id}"))
        .await
        .expect(200);

    let history = api
        .get(&format!("/v2/droplets/{id}/actions"))
        .await
        .expect(200);
    assert_eq!(history.body["meta"]["total"], 4);
    let everything = api.get("/v2/actions").await.expect(200);
    assert_eq!(everything.body["meta"]["total"], 4);

    api.delete(&format!("/v2/snapshots/{snapshot_id}"))
        .await
        .expect(204);
    api.get(&format!("/v2/snapshots/{snapshot_id}"))
        .await
        .expect(404);
    api.delete(&format!("/v2/droplets/{id}")).await.expect(204);
}

#[tokio::test]
async fn contract_domains_and_records() {
    let Some(cloud) = TestCloud::from_env("contract_domains_and_records") else {
        return;
    };
    let account = cloud.account("records").await;
    let api = &account.api;
    let zone = unique_domain("records");

    let created = api
        .post(
            "/v2/domains",
            json!({ "name": zone, "ip_address": "10.77.0.9" }),
        )
        .await
        .expect(201);
    assert_eq!(created.body["domain"]["name"], zone.as_str());
    let fetched = api.get(&format!("/v2/domains/{zone}")).await.expect(200);
    assert!(
        fetched.body["domain"]["zone_file"]
            .as_str()
            .unwrap()
            .contains("IN SOA")
    );
    let domains = api.get("/v2/domains").await.expect(200);
    assert_eq!(domains.body["meta"]["total"], 1);

    let initial = api
        .get(&format!("/v2/domains/{zone}/records"))
        .await
        .expect(200);
    let kinds: Vec<&str> = initial.body["domain_records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|record| record["type"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["SOA", "NS", "NS", "NS", "A"]);
    assert!(
        initial.body["domain_records"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["name"] == "@")
    );

    let records = format!("/v2/domains/{zone}/records");
    let www = api
        .post(
            &records,
            json!({ "type": "A", "name": "www", "data": "10.77.0.10", "ttl": 60 }),
        )
        .await
        .expect(201)
        .body["domain_record"]
        .clone();
    assert_eq!(www["ttl"], 60);
    assert_eq!(www["priority"], Value::Null);
    for body in [
        json!({ "type": "AAAA", "name": "www", "data": "2001:db8::10" }),
        json!({ "type": "CNAME", "name": "stats", "data": "www" }),
        json!({ "type": "TXT", "name": "@", "data": "v=spf1 -all" }),
        json!({ "type": "MX", "name": "@", "data": "mail.example.net.", "priority": 10 }),
        json!({ "type": "NS", "name": "lab", "data": "ns1.example.net." }),
        json!({ "type": "SRV", "name": "_sip._tcp", "data": "sip.example.net.", "priority": 1, "weight": 5, "port": 5060 }),
        json!({ "type": "CAA", "name": "@", "data": "letsencrypt.org", "flags": 0, "tag": "issue" }),
    ] {
        api.post(&records, body).await.expect(201);
    }

    let named = api
        .get(&format!("{records}?name=www.{zone}"))
        .await
        .expect(200);
    assert_eq!(named.body["meta"]["total"], 2);
    let typed = api.get(&format!("{records}?type=MX")).await.expect(200);
    assert_eq!(typed.body["meta"]["total"], 1);
    assert_eq!(typed.body["domain_records"][0]["priority"], 10);
    let both = api
        .get(&format!("{records}?name=www.{zone}&type=A"))
        .await
        .expect(200);
    assert_eq!(both.body["domain_records"][0]["id"], www["id"]);

    let record = format!("{records}/{}", id_of(&www));
    api.get(&record).await.expect(200);
    let put = api
        .put(&record, json!({ "type": "A", "data": "10.77.0.11" }))
        .await
        .expect(200);
    assert_eq!(put.body["domain_record"]["data"], "10.77.0.11");
    assert_eq!(put.body["domain_record"]["ttl"], 60);
    let patched = api
        .patch(&record, json!({ "type": "A", "ttl": 120 }))
        .await
        .expect(200);
    assert_eq!(patched.body["domain_record"]["data"], "10.77.0.11");
    assert_eq!(patched.body["domain_record"]["ttl"], 120);

    let low = api
        .post(
            &records,
            json!({ "type": "A", "name": "low", "data": "10.77.0.12", "ttl": 10 }),
        )
        .await
        .expect(422);
    assert_eq!(low.body["id"], "unprocessable_entity");
    api.patch(&record, json!({ "type": "A", "ttl": 29 }))
        .await
        .expect(422);

    let soa_id = id_of(&initial.body["domain_records"][0]);
    let soa = api
        .patch(
            &format!("{records}/{soa_id}"),
            json!({ "type": "SOA", "ttl": 3600 }),
        )
        .await
        .expect(200);
    assert_eq!(soa.body["domain_record"]["ttl"], 3600);
    api.delete(&format!("{records}/{soa_id}")).await.expect(422);

    api.delete(&record).await.expect(204);
    api.get(&record).await.expect(404);

    let rival = cloud.account("records-rival").await;
    let taken = rival
        .api
        .post("/v2/domains", json!({ "name": zone }))
        .await
        .expect(422);
    assert!(
        taken.body["message"]
            .as_str()
            .unwrap()
            .contains("already exists")
    );

    api.delete(&format!("/v2/domains/{zone}")).await.expect(204);
    api.get(&format!("/v2/domains/{zone}")).await.expect(404);
}

#[tokio::test]
async fn contract_pagination() {
    let Some(cloud) = TestCloud::from_env("contract_pagination") else {
        return;
    };
    let account = cloud.account("pages").await;
    let api = &account.api;
    let zone = unique_domain("pages");
    api.post("/v2/domains", json!({ "name": zone }))
        .await
        .expect(201);
    let records = format!("/v2/domains/{zone}/records");
    for number in 1..=26 {
        let body = json!({ "type": "A", "name": format!("host{number}"), "data": "10.77.1.1" });
        api.post(&records, body).await.expect(201);
    }

    let first = api.get(&records).await.expect(200);
    assert_eq!(first.body["domain_records"].as_array().unwrap().len(), 20);
    assert_eq!(first.body["meta"]["total"], 30);
    let pages = &first.body["links"]["pages"];
    assert!(pages.get("first").is_none());
    assert!(pages.get("prev").is_none());
    let next = pages["next"].as_str().expect("a next link");
    assert!(next.starts_with(&cloud.prism_url), "{next} points at Prism");
    assert_eq!(pages["last"], pages["next"]);

    let second = api.get(next).await.expect(200);
    assert_eq!(second.body["domain_records"].as_array().unwrap().len(), 10);
    let pages = &second.body["links"]["pages"];
    assert!(pages.get("next").is_none());
    assert!(pages["prev"].as_str().unwrap().contains("page=1"));
    assert!(pages.get("first").is_some());

    let whole = api
        .get(&format!("{records}?per_page=200"))
        .await
        .expect(200);
    assert_eq!(whole.body["domain_records"].as_array().unwrap().len(), 30);
    assert_eq!(whole.body["links"], json!({}));

    let small = api
        .get(&format!("{records}?per_page=7&page=3"))
        .await
        .expect(200);
    assert_eq!(small.body["domain_records"].as_array().unwrap().len(), 7);
    assert!(
        small.body["links"]["pages"]["last"]
            .as_str()
            .unwrap()
            .contains("page=5")
    );

    let clamped = account
        .direct
        .get(&format!("{records}?per_page=500"))
        .await
        .expect(200);
    assert_eq!(clamped.body["domain_records"].as_array().unwrap().len(), 30);
}

/// Return the MD5 fingerprint `ssh-keygen` prints for a public key.
fn ssh_keygen_md5(public_key: &str) -> String {
    let folder = tempfile::tempdir().unwrap();
    let path = folder.path().join("key.pub");
    std::fs::write(&path, public_key).unwrap();
    let output = std::process::Command::new("ssh-keygen")
        .args(["-l", "-E", "md5", "-f"])
        .arg(&path)
        .output()
        .expect("ssh-keygen runs");
    let text = String::from_utf8(output.stdout).unwrap();
    text.split_whitespace()
        .nth(1)
        .and_then(|field| field.strip_prefix("MD5:"))
        .unwrap_or_else(|| panic!("unexpected ssh-keygen output: {text}"))
        .to_string()
}

#[tokio::test]
async fn contract_ssh_keys() {
    let Some(cloud) = TestCloud::from_env("contract_ssh_keys") else {
        return;
    };
    let account = cloud.account("keys").await;
    let api = &account.api;
    let public_key = test_public_key(7);

    let created = api
        .post(
            "/v2/account/keys",
            json!({ "name": "wwdtm-ops", "public_key": public_key }),
        )
        .await
        .expect(201);
    let key = created.body["ssh_key"].clone();
    let fingerprint = key["fingerprint"].as_str().unwrap().to_string();
    assert_eq!(fingerprint, ssh_keygen_md5(&public_key));
    let key_id = id_of(&key);

    let listed = api.get("/v2/account/keys").await.expect(200);
    assert_eq!(listed.body["ssh_keys"][0]["name"], "wwdtm-ops");
    api.get(&format!("/v2/account/keys/{key_id}"))
        .await
        .expect(200);
    let by_fingerprint = api
        .get(&format!("/v2/account/keys/{fingerprint}"))
        .await
        .expect(200);
    assert_eq!(by_fingerprint.body["ssh_key"]["id"], key_id);
    let renamed = api
        .put(
            &format!("/v2/account/keys/{key_id}"),
            json!({ "name": "ops" }),
        )
        .await
        .expect(200);
    assert_eq!(renamed.body["ssh_key"]["name"], "ops");
    api.post(
        "/v2/account/keys",
        json!({ "name": "again", "public_key": public_key }),
    )
    .await
    .expect(422);

    let mut request = droplet_request("keyed-1");
    request["ssh_keys"] = json!([key_id, fingerprint]);
    api.post("/v2/droplets", request).await.expect(202);
    let mut unknown = droplet_request("keyed-2");
    unknown["ssh_keys"] = json!([1]);
    api.post("/v2/droplets", unknown).await.expect(422);

    api.delete(&format!("/v2/account/keys/{fingerprint}"))
        .await
        .expect(204);
    api.get(&format!("/v2/account/keys/{key_id}"))
        .await
        .expect(404);
}

#[tokio::test]
async fn contract_key_listing_limit() {
    let Some(cloud) = TestCloud::from_env("contract_key_listing_limit") else {
        return;
    };
    let account = cloud.account("key-limit").await;
    for _ in 0..10 {
        account.api.get("/v2/account/keys").await.expect(200);
    }
    let limited = account.api.get("/v2/account/keys").await.expect(429);
    let wait: u64 = limited
        .header("retry-after")
        .expect("retry-after")
        .parse()
        .unwrap();
    assert!((1..=60).contains(&wait));
    account.api.get("/v2/account").await.expect(200);
}

#[tokio::test]
async fn contract_tags() {
    let Some(cloud) = TestCloud::from_env("contract_tags") else {
        return;
    };
    let account = cloud.account("tags").await;
    let api = &account.api;

    let tag = api
        .post("/v2/tags", json!({ "name": "Web-Tier" }))
        .await
        .expect(201);
    assert_eq!(tag.body["tag"]["name"], "Web-Tier");
    let mut request = droplet_request("tagged-1");
    request["tags"] = json!(["web-tier"]);
    let first = id_of(&api.post("/v2/droplets", request).await.expect(202).body["droplet"]);
    let second = id_of(
        &api.post("/v2/droplets", droplet_request("tagged-2"))
            .await
            .expect(202)
            .body["droplet"],
    );

    let fetched = api.get("/v2/tags/Web-Tier").await.expect(200);
    assert_eq!(fetched.body["tag"]["resources"]["droplets"]["count"], 1);
    assert!(
        fetched.body["tag"]["resources"]["droplets"]["last_tagged_uri"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/v2/droplets/{first}"))
    );

    let resources =
        json!({ "resources": [{ "resource_id": second.to_string(), "resource_type": "droplet" }] });
    api.post("/v2/tags/Web-Tier/resources", resources.clone())
        .await
        .expect(204);
    let tagged = api.get("/v2/droplets?tag_name=Web-Tier").await.expect(200);
    assert_eq!(tagged.body["meta"]["total"], 2);
    api.delete_with("/v2/tags/Web-Tier/resources", resources)
        .await
        .expect(204);
    let tagged = api.get("/v2/droplets?tag_name=Web-Tier").await.expect(200);
    assert_eq!(tagged.body["meta"]["total"], 1);

    let tags = api.get("/v2/tags").await.expect(200);
    assert_eq!(tags.body["meta"]["total"], 1);
    api.get("/v2/tags/web-tier").await.expect(404);

    api.delete("/v2/tags/Web-Tier").await.expect(204);
    let droplet = api.get(&format!("/v2/droplets/{first}")).await.expect(200);
    assert_eq!(droplet.body["droplet"]["tags"], json!([]));
    api.get("/v2/tags/Web-Tier").await.expect(404);
}

#[tokio::test]
async fn contract_firewalls() {
    let Some(cloud) = TestCloud::from_env("contract_firewalls") else {
        return;
    };
    let mut settings = crate::support::api::fast_settings();
    // Long enough that a loaded machine still responds to the create while
    // the change is pending.
    settings["action_duration"] = json!("2s");
    let account = cloud.account_with("firewalls", settings).await;
    let api = &account.api;
    let droplet = id_of(
        &api.post("/v2/droplets", droplet_request("fw-1"))
            .await
            .expect(202)
            .body["droplet"],
    );
    api.post("/v2/tags", json!({ "name": "fw" }))
        .await
        .expect(201);

    let ssh = json!({ "protocol": "tcp", "ports": "22", "sources": { "addresses": ["0.0.0.0/0", "::/0"] } });
    let out =
        json!({ "protocol": "tcp", "ports": "0", "destinations": { "addresses": ["0.0.0.0/0"] } });
    let created = api
        .post(
            "/v2/firewalls",
            json!({
                "name": "web-fw",
                "inbound_rules": [ssh],
                "outbound_rules": [out],
                "droplet_ids": [droplet],
                "tags": ["fw"],
            }),
        )
        .await
        .expect(202);
    let firewall = created.body["firewall"].clone();
    assert_eq!(firewall["status"], "waiting");
    assert_eq!(firewall["pending_changes"][0]["droplet_id"], droplet);
    let path = format!("/v2/firewalls/{}", firewall["id"].as_str().unwrap());

    tokio::time::sleep(Duration::from_millis(2100)).await;
    let applied = api.get(&path).await.expect(200);
    assert_eq!(applied.body["firewall"]["status"], "succeeded");
    assert_eq!(applied.body["firewall"]["inbound_rules"][0], ssh);
    let listed = api.get("/v2/firewalls").await.expect(200);
    assert_eq!(listed.body["meta"]["total"], 1);

    let http = json!({ "protocol": "tcp", "ports": "80", "sources": { "tags": ["fw"] } });
    let replaced = api
        .put(
            &path,
            json!({ "name": "web-fw-2", "inbound_rules": [http] }),
        )
        .await
        .expect(200);
    assert_eq!(replaced.body["firewall"]["name"], "web-fw-2");
    assert_eq!(replaced.body["firewall"]["droplet_ids"], json!([]));
    assert_eq!(replaced.body["firewall"]["outbound_rules"], json!([]));

    api.post(
        &format!("{path}/droplets"),
        json!({ "droplet_ids": [droplet] }),
    )
    .await
    .expect(204);
    assert_eq!(
        api.get(&path).await.body["firewall"]["droplet_ids"],
        json!([droplet])
    );
    api.delete_with(
        &format!("{path}/droplets"),
        json!({ "droplet_ids": [droplet] }),
    )
    .await
    .expect(204);
    api.post(&format!("{path}/tags"), json!({ "tags": ["fw"] }))
        .await
        .expect(204);
    assert_eq!(api.get(&path).await.body["firewall"]["tags"], json!(["fw"]));
    api.delete_with(&format!("{path}/tags"), json!({ "tags": ["fw"] }))
        .await
        .expect(204);

    let https =
        json!({ "protocol": "tcp", "ports": "443", "sources": { "addresses": ["0.0.0.0/0"] } });
    api.post(
        &format!("{path}/rules"),
        json!({ "inbound_rules": [https] }),
    )
    .await
    .expect(204);
    assert_eq!(
        api.get(&path).await.body["firewall"]["inbound_rules"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    api.delete_with(
        &format!("{path}/rules"),
        json!({ "inbound_rules": [https] }),
    )
    .await
    .expect(204);
    assert_eq!(
        api.get(&path).await.body["firewall"]["inbound_rules"],
        json!([http])
    );

    let unknown_tag = api
        .post(&format!("{path}/tags"), json!({ "tags": ["no-such-tag"] }))
        .await
        .expect(400);
    assert_eq!(unknown_tag.body["id"], "bad_request");

    api.delete(&path).await.expect(204);
    api.get(&path).await.expect(404);
}

#[tokio::test]
async fn contract_rate_limit() {
    let Some(cloud) = TestCloud::from_env("contract_rate_limit") else {
        return;
    };
    let mut settings = crate::support::api::fast_settings();
    settings["rate_limit_per_minute"] = json!(3);
    let account = cloud.account_with("rate", settings).await;

    let mut remaining = Vec::new();
    for _ in 0..3 {
        let reply = account.api.get("/v2/droplets").await.expect(200);
        remaining.push(
            reply
                .header("ratelimit-remaining")
                .unwrap()
                .parse::<u32>()
                .unwrap(),
        );
    }
    assert_eq!(remaining, [4999, 4998, 4997]);

    let limited = account.api.get("/v2/droplets").await.expect(429);
    assert_eq!(limited.body["id"], "too_many_requests");
    assert_eq!(limited.header("ratelimit-remaining"), Some("0"));
    let wait: u64 = limited
        .header("retry-after")
        .expect("retry-after")
        .parse()
        .unwrap();
    assert!((1..=60).contains(&wait));
}

#[tokio::test]
async fn contract_unknown_token_is_unauthorized() {
    let Some(cloud) = TestCloud::from_env("contract_unknown_token_is_unauthorized") else {
        return;
    };
    let api = crate::support::api::Api::new(&cloud.prism_url, "dop_v1_not_a_sandbox_token", true);
    let reply = api.get("/v2/account").await.expect(401);
    assert_eq!(reply.body["id"], "unauthorized");
    assert!(reply.header("ratelimit-limit").is_some());
}

#[tokio::test]
async fn prism_rejects_droplet_create_without_image() {
    let Some(cloud) = TestCloud::from_env("prism_rejects_droplet_create_without_image") else {
        return;
    };
    let account = cloud.account("prism-check").await;
    let reply = account
        .api
        .send(
            reqwest::Method::POST,
            "/v2/droplets",
            Some(&json!({ "name": "no-image", "size": "s-1vcpu-1gb" })),
        )
        .await
        .expect("Prism answers");

    assert_eq!(reply.status.as_u16(), 422);
    assert!(
        reply
            .header("content-type")
            .unwrap()
            .starts_with("application/problem+json")
    );
    assert!(reply.body.to_string().contains("image"), "{}", reply.body);
    let seen = account.direct.get("/v2/droplets").await.expect(200);
    assert_eq!(
        seen.body["meta"]["total"], 0,
        "Prism must not forward the bad request"
    );
}
