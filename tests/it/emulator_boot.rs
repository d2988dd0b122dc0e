//! A new droplet goes through the states a real one shows: `new` without
//! networks, then `active` still without an address, then `active` with a
//! public IPv4. Clients that read the address too early meet the middle
//! state.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::api::public_ipv4;
use crate::support::emulator::Emulator;

/// One observation of a droplet: status, whether `networks.v4` has
/// entries, and whether one of them is public.
type Seen = (String, bool, bool);

#[tokio::test]
async fn boot_sequence_new_active_then_ip() {
    let emulator = Emulator::start(&[]);
    let api = emulator.account("boot").await;
    api.put(
        "/_sandbox/settings",
        json!({ "boot_time": "1s", "ip_delay": "1s" }),
    )
    .await
    .expect(200);

    let created = api
        .post(
            "/v2/droplets",
            json!({ "name": "prod-2023", "size": "s-1vcpu-2gb", "image": "debian-12-x64" }),
        )
        .await
        .expect(202);
    let droplet = &created.body["droplet"];
    let id = droplet["id"].as_u64().unwrap();
    let action_id = created.body["links"]["actions"][0]["id"].as_u64().unwrap();
    assert_eq!(droplet["status"], "new");
    assert_eq!(droplet["networks"], json!({ "v4": [], "v6": [] }));

    let mut seen: Vec<Seen> = Vec::new();
    let started = Instant::now();
    loop {
        let droplet = api
            .get(&format!("/v2/droplets/{id}"))
            .await
            .expect(200)
            .body["droplet"]
            .clone();
        let state = (
            droplet["status"].as_str().unwrap().to_string(),
            !droplet["networks"]["v4"].as_array().unwrap().is_empty(),
            public_ipv4(&droplet).is_some(),
        );
        if seen.last() != Some(&state) {
            seen.push(state.clone());
        }
        if state.2 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "no public IPv4 after 10 s: {seen:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let expected: Vec<Seen> = vec![
        ("new".into(), false, false),
        ("active".into(), false, false),
        ("active".into(), true, true),
    ];
    assert_eq!(seen, expected);

    let action = api
        .get(&format!("/v2/actions/{action_id}"))
        .await
        .expect(200);
    assert_eq!(action.body["action"]["status"], "completed");
    assert_eq!(action.body["action"]["type"], "create");
    assert_eq!(action.body["action"]["resource_id"], id);
}

#[tokio::test]
async fn addresses_are_unique_and_skip_the_gateway() {
    let emulator = Emulator::start(&[]);
    let api = emulator.account("addresses").await;
    let created = api
        .post(
            "/v2/droplets",
            json!({ "names": ["a1", "a2", "a3"], "size": "s-1vcpu-1gb", "image": "debian-12-x64" }),
        )
        .await
        .expect(202);

    let mut addresses = Vec::new();
    for droplet in created.body["droplets"].as_array().unwrap() {
        let id = droplet["id"].as_u64().unwrap();
        let active = api
            .wait_droplet(id, Duration::from_secs(10), |d| public_ipv4(d).is_some())
            .await;
        assert_eq!(active["networks"]["v4"][0]["type"], "private");
        assert!(
            active["networks"]["v4"][0]["ip_address"]
                .as_str()
                .unwrap()
                .starts_with("10.124.")
        );
        addresses.push(public_ipv4(&active).unwrap());
    }

    let mut unique = addresses.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 3, "addresses must differ: {addresses:?}");
    assert!(
        addresses
            .iter()
            .all(|address| address.starts_with("10.77."))
    );
    assert!(!addresses.contains(&"10.77.0.1".to_string()));
    assert!(!addresses.contains(&"10.77.0.0".to_string()));
}

#[tokio::test]
async fn time_scale_shortens_the_boot() {
    let emulator = Emulator::start(&[
        "--time-scale",
        "0.05",
        "--boot-time",
        "20s",
        "--ip-delay",
        "0s",
    ]);
    let api = emulator.client(&crate::support::api::new_token("scaled"));
    let created = api
        .post(
            "/v2/droplets",
            json!({ "name": "quick-1", "size": "s-1vcpu-1gb", "image": "debian-12-x64" }),
        )
        .await
        .expect(202);
    let id = created.body["droplet"]["id"].as_u64().unwrap();

    // Unscaled, the boot would take 20 s; scaled by 0.05 it takes 1 s.
    let active = api
        .wait_droplet(id, Duration::from_secs(10), |d| public_ipv4(d).is_some())
        .await;
    assert_eq!(active["status"], "active");
}
