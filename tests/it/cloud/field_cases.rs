//! The field cases for the DigitalOcean API client, each reduced to the
//! smallest fake that reproduces it.

use std::time::Duration;

use serde_json::{Value, json};
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};
use wwctl::cloud::{
    CloudError, Deletion, DropletAction, DropletSpec, ImageRef, PollSettings, RecordChange,
    RecordPatch, RecordSpec, RecordType,
};

use super::harness::{
    DropletFake, PostAnswer, START, Sequence, action_json, client_with, droplet_json, error_json,
    policy, public_networks, received, secs, setup, writes,
};

const POLL: PollSettings = PollSettings::new(Duration::from_secs(5), Duration::from_secs(60));

fn spec(name: &str) -> DropletSpec {
    DropletSpec::new(
        name,
        "nyc3",
        "s-1vcpu-1gb",
        ImageRef::Slug("debian-12-x64".into()),
    )
}

// C01: the public address is read only once the droplet is active and has one.

async fn mount_c01(server: &MockServer) {
    let new = droplet_json(3164444, "app-2023", "new", json!({}));
    Mock::given(method("GET"))
        .and(path("/v2/droplets"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"droplets": [], "meta": {"total": 0}})),
        )
        .mount(server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v2/droplets"))
        .respond_with(ResponseTemplate::new(202).set_body_json(json!({
            "droplet": new,
            "links": {"actions": [{"id": 7515, "rel": "create", "href": "https://api.digitalocean.com/v2/actions/7515"}]}
        })))
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v2/actions/7515"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(
                json!({"action": action_json(7515, "completed", "create", 3164444)}),
            ),
        )
        .mount(server)
        .await;
}

#[tokio::test]
async fn c01_waits_for_public_ipv4() {
    let (server, clock, client) = setup().await;
    mount_c01(&server).await;
    let poll = |body: Value| ResponseTemplate::new(200).set_body_json(json!({"droplet": body}));
    Mock::given(method("GET"))
        .and(path("/v2/droplets/3164444"))
        .respond_with(Sequence::new(vec![
            poll(droplet_json(3164444, "app-2023", "new", json!({}))),
            poll(droplet_json(
                3164444,
                "app-2023",
                "active",
                json!({"v4": [], "v6": []}),
            )),
            poll(droplet_json(
                3164444,
                "app-2023",
                "active",
                public_networks("192.0.2.10"),
            )),
        ]))
        .mount(&server)
        .await;

    let created = client
        .create_droplet(&spec("app-2023"), "wwctl-run:c01")
        .await
        .unwrap();
    assert_eq!(created.id(), 3164444);
    assert_eq!(created.create_action_id, Some(7515));
    assert!(!created.adopted);
    assert_eq!(created.droplet.public_ipv4(), None);

    let ready = client
        .wait_until_ready(created.id(), created.create_action_id, POLL)
        .await
        .unwrap();
    assert_eq!(ready.public_ipv4.to_string(), "192.0.2.10");
    assert_eq!(
        received(&server, "GET", "/v2/droplets/3164444").await.len(),
        3
    );
    assert_eq!(clock.sleeps(), secs(&[5, 5]));
}

#[tokio::test]
async fn c01_no_address_times_out() {
    let (server, clock, client) = setup().await;
    mount_c01(&server).await;
    Mock::given(method("GET"))
        .and(path("/v2/droplets/3164444"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"droplet": droplet_json(3164444, "app-2023", "active", json!({"v4": []}))}),
        ))
        .mount(&server)
        .await;

    let error = client
        .wait_until_ready(3164444, Some(7515), POLL)
        .await
        .unwrap_err();
    assert!(
        matches!(error, CloudError::WaitTimedOut { .. }),
        "{error:?}"
    );
    let text = error.to_string();
    assert!(text.contains("droplet 3164444"), "{text}");
    assert!(text.contains("public IPv4 none yet"), "{text}");
    assert_eq!(
        clock.sleeps().iter().sum::<Duration>(),
        Duration::from_secs(60)
    );
}

#[tokio::test]
async fn c01_errored_create_action_names_it() {
    let (server, _clock, client) = setup().await;
    Mock::given(method("GET"))
        .and(path("/v2/actions/7515"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"action": action_json(7515, "errored", "create", 3164444)})),
        )
        .mount(&server)
        .await;

    let error = client
        .wait_until_ready(3164444, Some(7515), POLL)
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            CloudError::ActionErrored {
                action_id: 7515,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(
        error
            .to_string()
            .contains("action 7515 (create) on droplet 3164444"),
        "{error}"
    );
}

// C03: 429s with a reset time in the past.

#[tokio::test]
async fn c03_past_reset_retries_soon() {
    let (server, clock, client) = setup().await;
    let past = (START - 1500).to_string();
    let limited = ResponseTemplate::new(429)
        .insert_header("ratelimit-limit", "5000")
        .insert_header("ratelimit-remaining", "0")
        .insert_header("ratelimit-reset", past.as_str())
        .insert_header("x-request-id", "req-429")
        .set_body_json(error_json("too_many_requests", "API rate limit exceeded."));
    let records = ResponseTemplate::new(200).set_body_json(json!({
        "domain_records": [{"id": 1, "type": "A", "name": "@", "data": "192.0.2.10", "ttl": 1800}],
        "meta": {"total": 1}
    }));
    Mock::given(method("GET"))
        .and(path("/v2/domains/example.com/records"))
        .respond_with(Sequence::new(vec![
            limited.clone(),
            limited.clone(),
            limited,
            records,
        ]))
        .mount(&server)
        .await;

    let found = client
        .records("example.com", &Default::default())
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(
        received(&server, "GET", "/v2/domains/example.com/records")
            .await
            .len(),
        4
    );
    assert_eq!(clock.sleeps(), secs(&[1, 2, 4]));
}

#[tokio::test]
async fn c03_exhausted_retries_fail_clearly() {
    let (server, clock, client) = setup().await;
    let past = (START - 1500).to_string();
    Mock::given(method("GET"))
        .and(path("/v2/domains/example.com/records"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("ratelimit-remaining", "0")
                .insert_header("ratelimit-reset", past.as_str())
                .insert_header("x-request-id", "req-429-last")
                .set_body_json(error_json("too_many_requests", "API rate limit exceeded.")),
        )
        .mount(&server)
        .await;

    let error = client
        .records("example.com", &Default::default())
        .await
        .unwrap_err();
    assert!(matches!(error, CloudError::RateLimited { .. }), "{error:?}");
    let text = error.to_string();
    assert!(
        text.contains("GET /v2/domains/example.com/records"),
        "{text}"
    );
    assert!(text.contains("HTTP 429"), "{text}");
    assert!(text.contains("API rate limit exceeded."), "{text}");
    assert!(text.contains("req-429-last"), "{text}");
    assert!(text.contains("resumes"), "{text}");
    assert_eq!(clock.sleeps(), secs(&[1, 2, 4, 8, 16]));
}

// C04: the record to update is on page 2.

/// Serves a zone of 25 records, 20 a page whatever `per_page` requests, with
/// `www` at position 23. PUT and POST change the zone.
async fn mount_c04_zone(
    server: &MockServer,
    www_data: &str,
) -> std::sync::Arc<std::sync::Mutex<Vec<Value>>> {
    let mut records: Vec<Value> = (1..=25)
        .map(|index| json!({"id": 100 + index, "type": "A", "name": format!("host{index}"), "data": "198.51.100.1", "ttl": 1800, "priority": null, "port": null, "weight": null, "flags": null, "tag": null}))
        .collect();
    records[22] = json!({"id": 123, "type": "A", "name": "www", "data": www_data, "ttl": 1800, "priority": null, "port": null, "weight": null, "flags": null, "tag": null});
    let zone = std::sync::Arc::new(std::sync::Mutex::new(records));

    let base = server.uri();
    let listing = zone.clone();
    Mock::given(method("GET"))
        .and(path("/v2/domains/example.com/records"))
        .respond_with(move |request: &Request| {
            let page: usize = request
                .url
                .query_pairs()
                .find(|(name, _)| name == "page")
                .map_or(1, |(_, value)| value.parse().unwrap());
            let records = listing.lock().unwrap();
            let slice: Vec<Value> = records
                .iter()
                .skip((page - 1) * 20)
                .take(20)
                .cloned()
                .collect();
            let mut pages = json!({});
            if page * 20 < records.len() {
                pages["next"] = json!(format!(
                    "{base}/v2/domains/example.com/records?page={}&per_page=20",
                    page + 1
                ));
                pages["last"] = json!(format!(
                    "{base}/v2/domains/example.com/records?page=2&per_page=20"
                ));
            }
            ResponseTemplate::new(200).set_body_json(json!({
                "domain_records": slice, "links": {"pages": pages}, "meta": {"total": records.len()}
            }))
        })
        .mount(server)
        .await;

    let updating = zone.clone();
    Mock::given(method("PUT"))
        .and(path("/v2/domains/example.com/records/123"))
        .respond_with(move |request: &Request| {
            let body: Value = request.body_json().unwrap();
            let mut records = updating.lock().unwrap();
            let record = records
                .iter_mut()
                .find(|record| record["id"] == 123)
                .unwrap();
            record["data"] = body["data"].clone();
            record["ttl"] = body["ttl"].clone();
            ResponseTemplate::new(200).set_body_json(json!({"domain_record": record.clone()}))
        })
        .mount(server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v2/domains/example.com/records"))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"domain_record": {"id": 999, "type": "A", "name": "www", "data": "192.0.2.10", "ttl": 1800}})))
        .mount(server)
        .await;
    zone
}

#[tokio::test]
async fn c04_record_on_page_two_is_found() {
    let (server, _clock, client) = setup().await;
    mount_c04_zone(&server, "192.0.2.10").await;

    let wanted = RecordSpec::new(RecordType::A, "www", "192.0.2.10", 1800);
    let change = client.upsert_record("example.com", &wanted).await.unwrap();
    assert!(
        matches!(&change, RecordChange::Unchanged(record) if record.id == 123),
        "{change:?}"
    );
    assert!(writes(&server).await.is_empty());

    let listed = received(&server, "GET", "/v2/domains/example.com/records").await;
    assert_eq!(listed.len(), 2);
    let first_query: Vec<(String, String)> = listed[0].url.query_pairs().into_owned().collect();
    assert!(
        first_query.contains(&("per_page".into(), "200".into())),
        "{first_query:?}"
    );
    assert!(
        first_query.contains(&("name".into(), "www.example.com".into())),
        "{first_query:?}"
    );
}

#[tokio::test]
async fn c04_update_in_place_then_no_writes() {
    let (server, _clock, client) = setup().await;
    let zone = mount_c04_zone(&server, "198.51.100.7").await;

    let wanted = RecordSpec::new(RecordType::A, "www.example.com.", "192.0.2.10", 1800);
    let change = client.upsert_record("example.com", &wanted).await.unwrap();
    match &change {
        RecordChange::Updated { before, after } => {
            assert_eq!(before.id, 123);
            assert_eq!(before.data.as_deref(), Some("198.51.100.7"));
            assert_eq!(after.data.as_deref(), Some("192.0.2.10"));
        }
        other => panic!("expected an update, got {other:?}"),
    }
    let first_writes = writes(&server).await;
    assert_eq!(first_writes.len(), 1);
    assert_eq!(first_writes[0].method.as_str(), "PUT");
    let body: Value = first_writes[0].body_json().unwrap();
    assert_eq!(body["name"], "www");
    assert_eq!(zone.lock().unwrap().len(), 25);

    let second = client.upsert_record("example.com", &wanted).await.unwrap();
    assert!(matches!(second, RecordChange::Unchanged(_)), "{second:?}");
    assert_eq!(writes(&server).await.len(), 1);
}

// C05: two droplets share a name.

#[tokio::test]
async fn c05_name_lookup_is_ambiguous() {
    let (server, _clock, client) = setup().await;
    Mock::given(method("GET"))
        .and(path("/v2/droplets"))
        .and(query_param("name", "app-old"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "droplets": [
                droplet_json(111, "app-old", "active", public_networks("192.0.2.11")),
                droplet_json(222, "app-old", "active", public_networks("192.0.2.22"))
            ],
            "links": {}, "meta": {"total": 2}
        })))
        .mount(&server)
        .await;

    let listed = client.droplets_by_name("app-old").await.unwrap();
    let ids: Vec<u64> = listed.iter().map(|droplet| droplet.id).collect();
    assert_eq!(ids, vec![111, 222]);

    let error = client.droplet_named("app-old").await.unwrap_err();
    assert!(
        matches!(error, CloudError::Ambiguous { count: 2, .. }),
        "{error:?}"
    );
    let text = error.to_string();
    assert!(text.contains("ambiguous"), "{text}");
    assert!(text.contains("111"), "{text}");
    assert!(text.contains("222"), "{text}");
    assert!(writes(&server).await.is_empty());
}

// C06: a run killed after the create is resumed without a second POST.

#[tokio::test]
async fn c06_resume_after_kill_adopts_droplet() {
    let server = MockServer::start().await;
    let fake = DropletFake::mount(&server, PostAnswer::Accepted).await;
    let clock = std::sync::Arc::new(wwctl::clock::ManualClock::new(super::harness::start()));
    let journal = std::sync::Mutex::new(Vec::new());

    let first_run = client_with(&server, &clock, policy());
    let created = first_run
        .create_droplet(&spec("app-2023"), "wwctl-run:c06")
        .await
        .unwrap();
    journal.lock().unwrap().push(created.id());
    let wait = first_run.wait_until_ready(created.id(), created.create_action_id, POLL);
    drop(wait);
    drop(first_run);

    let second_run = client_with(&server, &clock, policy());
    let resumed = second_run
        .create_droplet(&spec("app-2023"), "wwctl-run:c06")
        .await
        .unwrap();
    assert!(resumed.adopted);
    assert_eq!(resumed.id(), journal.lock().unwrap()[0]);
    assert_eq!(resumed.create_action_id, None);

    let ready = second_run
        .wait_until_ready(resumed.id(), None, POLL)
        .await
        .unwrap();
    assert_eq!(ready.public_ipv4.to_string(), "192.0.2.10");
    assert_eq!(received(&server, "POST", "/v2/droplets").await.len(), 1);
    assert_eq!(fake.droplet_count(), 1);
}

#[tokio::test]
async fn c06_kill_before_answer_still_one_droplet() {
    let server = MockServer::start().await;
    let fake = DropletFake::mount(&server, PostAnswer::AcceptedAfter(Duration::from_secs(5))).await;
    let clock = std::sync::Arc::new(wwctl::clock::ManualClock::new(super::harness::start()));

    let first_run = client_with(&server, &clock, policy());
    let killed = tokio::time::timeout(
        Duration::from_millis(300),
        first_run.create_droplet(&spec("app-2023"), "wwctl-run:c06b"),
    )
    .await;
    assert!(
        killed.is_err(),
        "the first run should still wait for the 202"
    );
    assert_eq!(fake.droplet_count(), 1);

    let second_run = client_with(&server, &clock, policy());
    let resumed = second_run
        .create_droplet(&spec("app-2023"), "wwctl-run:c06b")
        .await
        .unwrap();
    assert!(resumed.adopted);
    assert_eq!(received(&server, "POST", "/v2/droplets").await.len(), 1);
    assert_eq!(fake.droplet_count(), 1);
}

// C07: a busy droplet, a slow action, and a droplet already deleted.

#[tokio::test]
async fn c07_busy_droplet_slow_action_gone_droplet() {
    let (server, clock, client) = setup().await;
    let pending = ResponseTemplate::new(422)
        .insert_header("x-request-id", "req-422")
        .set_body_json(error_json(
            "unprocessable_entity",
            "Droplet already has a pending event.",
        ));
    Mock::given(method("POST"))
        .and(path("/v2/droplets/111/actions"))
        .respond_with(Sequence::new(vec![
            pending.clone(),
            pending,
            ResponseTemplate::new(201).set_body_json(
                json!({"action": action_json(36804745, "in-progress", "shutdown", 111)}),
            ),
        ]))
        .mount(&server)
        .await;
    let in_progress = ResponseTemplate::new(200)
        .set_body_json(json!({"action": action_json(36804745, "in-progress", "shutdown", 111)}));
    let mut polls = vec![in_progress; 5];
    polls.push(
        ResponseTemplate::new(200)
            .set_body_json(json!({"action": action_json(36804745, "completed", "shutdown", 111)})),
    );
    Mock::given(method("GET"))
        .and(path("/v2/actions/36804745"))
        .respond_with(Sequence::new(polls))
        .mount(&server)
        .await;
    Mock::given(method("DELETE"))
        .and(path("/v2/droplets/111"))
        .respond_with(ResponseTemplate::new(404).set_body_json(error_json(
            "not_found",
            "The resource you requested could not be found.",
        )))
        .mount(&server)
        .await;

    let action = client
        .start_droplet_action(111, &DropletAction::Shutdown)
        .await
        .unwrap();
    assert_eq!(action.id, 36804745);
    assert_eq!(
        received(&server, "POST", "/v2/droplets/111/actions")
            .await
            .len(),
        3
    );

    let done = client.wait_for_action(action.id, POLL).await.unwrap();
    assert_eq!(done.status, wwctl::cloud::ActionStatus::Completed);
    assert_eq!(
        received(&server, "GET", "/v2/actions/36804745").await.len(),
        6
    );
    assert_eq!(clock.sleeps(), secs(&[1, 2, 5, 5, 5, 5, 5]));

    assert_eq!(
        client.delete_droplet(111).await.unwrap(),
        Deletion::AlreadyGone
    );
}

#[tokio::test]
async fn c07_action_still_running_times_out() {
    let (server, _clock, client) = setup().await;
    Mock::given(method("GET"))
        .and(path("/v2/actions/36804745"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"action": action_json(36804745, "in-progress", "shutdown", 111)}),
        ))
        .mount(&server)
        .await;

    let error = client.wait_for_action(36804745, POLL).await.unwrap_err();
    let text = error.to_string();
    assert!(text.contains("action 36804745 (shutdown)"), "{text}");
    assert!(text.contains("in-progress"), "{text}");
}

// C08: a TTL under the minimum is rejected before any request.

#[tokio::test]
async fn c08_low_ttl_rejected_before_any_call() {
    let (server, _clock, client) = setup().await;

    let spec = RecordSpec::new(RecordType::A, "@", "192.0.2.10", 10);
    let error = client
        .upsert_record("example.com", &spec)
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            CloudError::InvalidTtl {
                ttl: 10,
                min: 30,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(error.to_string().contains("at least 30 seconds"), "{error}");

    let patch = RecordPatch {
        kind: RecordType::A,
        data: None,
        ttl: Some(10),
    };
    assert!(matches!(
        client.patch_record("example.com", 1, &patch).await,
        Err(CloudError::InvalidTtl { .. })
    ));
    assert!(matches!(
        client.create_record("example.com", &spec).await,
        Err(CloudError::InvalidTtl { .. })
    ));
    assert!(server.received_requests().await.unwrap().is_empty());
}

// C09: the apex spelled `example.com.` matches the API's `@`.

#[tokio::test]
async fn c09_apex_spellings_make_no_change() {
    let (server, _clock, client) = setup().await;
    Mock::given(method("GET"))
        .and(path("/v2/domains/example.com/records"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "domain_records": [
                {"id": 2, "type": "NS", "name": "@", "data": "ns1.digitalocean.com", "ttl": 1800},
                {"id": 3, "type": "A", "name": "@", "data": "192.0.2.10", "ttl": 1800, "priority": null, "port": null, "weight": null, "flags": null, "tag": null}
            ],
            "links": {}, "meta": {"total": 2}
        })))
        .mount(&server)
        .await;

    for name in ["example.com.", "example.com", "@"] {
        let spec = RecordSpec::new(RecordType::A, name, "192.0.2.10", 1800);
        let change = client.upsert_record("example.com", &spec).await.unwrap();
        assert!(
            matches!(&change, RecordChange::Unchanged(record) if record.id == 3),
            "{name}: {change:?}"
        );
    }
    assert!(writes(&server).await.is_empty());

    let listed = received(&server, "GET", "/v2/domains/example.com/records").await;
    let query: Vec<(String, String)> = listed[0].url.query_pairs().into_owned().collect();
    assert!(
        query.contains(&("name".into(), "example.com".into())),
        "{query:?}"
    );
    assert!(query.contains(&("type".into(), "A".into())), "{query:?}");
}
