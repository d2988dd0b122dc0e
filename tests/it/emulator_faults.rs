//! Injected faults: 429s and server errors that a retrying client gets
//! through without duplicates, dropped connections before and after the
//! work is done, latency, droplets without addresses, failing actions, and
//! repeatable draws from a seed.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};

use crate::support::api::{Api, Reply, assert_no_violation, public_ipv4};
use crate::support::cloud::TestCloud;
use crate::support::emulator::Emulator;

const ATTEMPTS: usize = 25;

#[derive(Debug, Default)]
struct Faults {
    rate_limited: usize,
    server_errors: usize,
}

/// Send a request, retrying 429 and 5xx responses a bounded number of times.
async fn retried(
    api: &Api,
    faults: &mut Faults,
    method: Method,
    path: &str,
    body: Option<&Value>,
) -> Reply {
    for _ in 0..ATTEMPTS {
        let reply = api
            .send(method.clone(), path, body)
            .await
            .unwrap_or_else(|error| panic!("{method} {path}: {error}"));
        if api.through_prism {
            assert_no_violation(&method, path, &reply);
        }
        match reply.status.as_u16() {
            429 => {
                assert!(
                    reply.header("retry-after").is_some(),
                    "a 429 carries retry-after"
                );
                faults.rate_limited += 1;
            }
            500..=599 => faults.server_errors += 1,
            _ => return reply,
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{method} {path} still failed after {ATTEMPTS} attempts");
}

/// Create with POST, but before repeating a failed POST look for what it
/// may have created, as a client without idempotency keys must.
async fn create_once(
    api: &Api,
    faults: &mut Faults,
    path: &str,
    body: &Value,
    lookup: &str,
    found: impl Fn(&Value) -> Option<Value>,
) -> Value {
    for _ in 0..ATTEMPTS {
        let reply = api
            .send(Method::POST, path, Some(body))
            .await
            .unwrap_or_else(|error| panic!("POST {path}: {error}"));
        if api.through_prism {
            assert_no_violation(&Method::POST, path, &reply);
        }
        match reply.status.as_u16() {
            201 | 202 => return reply.body,
            429 => faults.rate_limited += 1,
            500..=599 => faults.server_errors += 1,
            other => panic!("POST {path} failed with {other}: {}", reply.body),
        }
        let existing = retried(api, faults, Method::GET, lookup, None)
            .await
            .expect(200);
        if let Some(value) = found(&existing.body) {
            return value;
        }
    }
    panic!("POST {path} still failed after {ATTEMPTS} attempts");
}

#[tokio::test]
async fn faults_with_retries_end_without_duplicates() {
    let Some(cloud) = TestCloud::from_env("faults_with_retries_end_without_duplicates") else {
        return;
    };
    let account = cloud.account("faults").await;
    account
        .direct
        .put(
            "/_sandbox/faults",
            json!({ "rate_429": 0.2, "rate_5xx": 0.1, "seed": 2024 }),
        )
        .await
        .expect(200);
    let api = &account.api;
    let mut faults = Faults::default();
    let suffix: u32 = rand::random();
    let zone = format!("faults-{suffix:08x}.example.com");

    create_once(
        api,
        &mut faults,
        "/v2/domains",
        &json!({ "name": zone }),
        "/v2/domains",
        |body| {
            body["domains"]
                .as_array()?
                .iter()
                .find(|domain| domain["name"] == zone.as_str())
                .cloned()
        },
    )
    .await;

    let records = format!("/v2/domains/{zone}/records");
    for number in 1..=5 {
        let name = format!("web-{number}");
        let request = json!({ "name": name, "size": "s-1vcpu-1gb", "image": "debian-12-x64" });
        create_once(
            api,
            &mut faults,
            "/v2/droplets",
            &request,
            &format!("/v2/droplets?name={name}"),
            |body| body["droplets"].as_array()?.first().cloned(),
        )
        .await;

        let record =
            json!({ "type": "A", "name": name, "data": format!("10.77.9.{number}"), "ttl": 60 });
        create_once(
            api,
            &mut faults,
            &records,
            &record,
            &format!("{records}?type=A&name={name}.{zone}"),
            |body| body["domain_records"].as_array()?.first().cloned(),
        )
        .await;
    }

    let listed = retried(
        api,
        &mut faults,
        Method::GET,
        &format!("{records}?type=A"),
        None,
    )
    .await
    .expect(200);
    for record in listed.body["domain_records"].as_array().unwrap() {
        let id = record["id"].as_u64().unwrap();
        let number = record["name"]
            .as_str()
            .unwrap()
            .trim_start_matches("web-")
            .to_string();
        let change = json!({ "type": "A", "data": format!("10.77.8.{number}") });
        retried(
            api,
            &mut faults,
            Method::PUT,
            &format!("{records}/{id}"),
            Some(&change),
        )
        .await
        .expect(200);
    }

    let droplets = retried(api, &mut faults, Method::GET, "/v2/droplets", None)
        .await
        .expect(200);
    let mut names: Vec<&str> = droplets.body["droplets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|droplet| droplet["name"].as_str().unwrap())
        .collect();
    names.sort_unstable();
    assert_eq!(names, ["web-1", "web-2", "web-3", "web-4", "web-5"]);

    let final_records = retried(
        api,
        &mut faults,
        Method::GET,
        &format!("{records}?type=A"),
        None,
    )
    .await
    .expect(200);
    let mut values: Vec<(String, String)> = final_records.body["domain_records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|record| {
            (
                record["name"].as_str().unwrap().to_string(),
                record["data"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    values.sort();
    let expected: Vec<(String, String)> = (1..=5)
        .map(|number| (format!("web-{number}"), format!("10.77.8.{number}")))
        .collect();
    assert_eq!(values, expected);

    assert!(faults.rate_limited > 0, "no 429 was injected: {faults:?}");
    assert!(
        faults.server_errors > 0,
        "no server error was injected: {faults:?}"
    );
}

#[tokio::test]
async fn reset_and_lost_faults_drop_connections() {
    let emulator = Emulator::start(&[]);
    let api = emulator.account("connections").await;
    let droplet =
        |name: &str| json!({ "name": name, "size": "s-1vcpu-1gb", "image": "debian-12-x64" });

    api.put("/_sandbox/faults", json!({ "rate_reset": 1.0 }))
        .await
        .expect(200);
    let reset = api
        .send(Method::POST, "/v2/droplets", Some(&droplet("reset-1")))
        .await;
    assert!(
        reset.is_err(),
        "a reset connection gives no answer: {reset:?}"
    );
    api.delete("/_sandbox/faults").await.expect(200);
    let after_reset = api.get("/v2/droplets").await.expect(200);
    assert_eq!(
        after_reset.body["meta"]["total"], 0,
        "a reset request is not carried out"
    );

    api.put("/_sandbox/faults", json!({ "rate_lost": 1.0 }))
        .await
        .expect(200);
    let lost = api
        .send(Method::POST, "/v2/droplets", Some(&droplet("lost-1")))
        .await;
    assert!(lost.is_err(), "a lost answer never arrives: {lost:?}");
    api.delete("/_sandbox/faults").await.expect(200);
    let after_lost = api.get("/v2/droplets?name=lost-1").await.expect(200);
    assert_eq!(
        after_lost.body["meta"]["total"], 1,
        "a request whose answer was lost is carried out"
    );
}

#[tokio::test]
async fn latency_delays_every_request() {
    let emulator = Emulator::start(&[]);
    let api = emulator.account("latency").await;
    api.put("/_sandbox/faults", json!({ "latency": "300ms" }))
        .await
        .expect(200);
    let started = Instant::now();
    api.get("/v2/account").await.expect(200);
    assert!(started.elapsed() >= Duration::from_millis(300));
}

#[tokio::test]
async fn droplet_without_address_and_failing_action() {
    let emulator = Emulator::start(&[]);
    let api = emulator.account("dark").await;
    api.put(
        "/_sandbox/faults",
        json!({ "no_ip": ["Dark-1"], "error_actions": ["snapshot"] }),
    )
    .await
    .expect(200);
    let droplet =
        |name: &str| json!({ "name": name, "size": "s-1vcpu-1gb", "image": "debian-12-x64" });
    let dark = api
        .post("/v2/droplets", droplet("dark-1"))
        .await
        .expect(202)
        .body["droplet"]["id"]
        .as_u64()
        .unwrap();
    let lit = api
        .post("/v2/droplets", droplet("lit-1"))
        .await
        .expect(202)
        .body["droplet"]["id"]
        .as_u64()
        .unwrap();

    api.wait_droplet(lit, Duration::from_secs(10), |d| public_ipv4(d).is_some())
        .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let still_dark = api
        .get(&format!("/v2/droplets/{dark}"))
        .await
        .expect(200)
        .body["droplet"]
        .clone();
    assert_eq!(still_dark["status"], "active");
    assert_eq!(still_dark["networks"]["v4"], json!([]));

    let snapshot = api
        .post(
            &format!("/v2/droplets/{lit}/actions"),
            json!({ "type": "snapshot" }),
        )
        .await
        .expect(201);
    let action = api
        .wait_action(
            snapshot.body["action"]["id"].as_u64().unwrap(),
            Duration::from_secs(10),
        )
        .await;
    assert_eq!(action["status"], "errored");
    let droplet = api
        .get(&format!("/v2/droplets/{lit}"))
        .await
        .expect(200)
        .body["droplet"]
        .clone();
    assert_eq!(droplet["locked"], false);
    assert_eq!(droplet["snapshot_ids"], json!([]));

    let power_off = api
        .post(
            &format!("/v2/droplets/{lit}/actions"),
            json!({ "type": "power_off" }),
        )
        .await
        .expect(201);
    let action = api
        .wait_action(
            power_off.body["action"]["id"].as_u64().unwrap(),
            Duration::from_secs(10),
        )
        .await;
    assert_eq!(action["status"], "completed");
}

async fn statuses(api: &Api, count: usize) -> Vec<u16> {
    let mut statuses = Vec::new();
    for _ in 0..count {
        let reply = api
            .send(Method::GET, "/v2/account", None)
            .await
            .expect("an answer");
        statuses.push(reply.status.as_u16());
    }
    statuses
}

#[tokio::test]
async fn same_seed_repeats_the_same_faults() {
    let emulator = Emulator::start(&[]);
    let api = emulator.account("seeded").await;
    let faults = json!({ "rate_429": 0.3, "rate_5xx": 0.3, "seed": 7 });

    api.put("/_sandbox/faults", faults.clone())
        .await
        .expect(200);
    let first = statuses(&api, 30).await;
    api.put("/_sandbox/faults", faults).await.expect(200);
    let second = statuses(&api, 30).await;

    assert_eq!(first, second);
    assert!(first.contains(&200), "{first:?}");
    assert!(first.contains(&429), "{first:?}");
    assert!(first.iter().any(|status| *status >= 500), "{first:?}");
}

#[tokio::test]
async fn command_line_faults_are_the_default() {
    let emulator = Emulator::start(&["--faults", "5xx=1"]);
    let api = emulator.client(&crate::support::api::new_token("default-faults"));

    let failing = api
        .send(Method::GET, "/v2/account", None)
        .await
        .expect("an answer");
    assert!(failing.status.is_server_error(), "{}", failing.status);
    assert_eq!(
        failing.body["id"]
            .as_str()
            .map(|id| id.ends_with("error") || id.ends_with("unavailable")),
        Some(true)
    );

    let current = api.get("/_sandbox/faults").await.expect(200);
    assert_eq!(current.body["spec"], "5xx=1");
    api.put("/_sandbox/faults", json!({})).await.expect(200);
    api.get("/v2/account").await.expect(200);
    api.delete("/_sandbox/faults").await.expect(200);
    let again = api
        .send(Method::GET, "/v2/account", None)
        .await
        .expect("an answer");
    assert!(again.status.is_server_error());
}
