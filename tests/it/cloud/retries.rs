//! The retry policy and the rate budget against a local fake.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};
use wwctl::clock::ManualClock;
use wwctl::cloud::{CloudError, DropletSpec, ImageRef, RetryPolicy};

use super::harness::{
    DropletFake, PostAnswer, START, Sequence, client_with, droplet_json, error_json, policy,
    public_networks, received, secs, setup, start,
};

fn droplet_ok() -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(
        json!({"droplet": droplet_json(111, "app", "active", public_networks("192.0.2.10"))}),
    )
}

fn spec() -> DropletSpec {
    DropletSpec::new(
        "app-2023",
        "nyc3",
        "s-1vcpu-1gb",
        ImageRef::Slug("debian-12-x64".into()),
    )
}

async fn mount_droplet(server: &MockServer, responses: Vec<ResponseTemplate>) {
    Mock::given(method("GET"))
        .and(path("/v2/droplets/111"))
        .respond_with(Sequence::new(responses))
        .mount(server)
        .await;
}

fn too_many() -> ResponseTemplate {
    ResponseTemplate::new(429)
        .set_body_json(error_json("too_many_requests", "API rate limit exceeded."))
}

#[tokio::test]
async fn rate_limit_honours_retry_after() {
    let (server, clock, client) = setup().await;
    let limited = too_many()
        .insert_header("retry-after", "7")
        .insert_header("ratelimit-reset", (START + 3000).to_string().as_str());
    mount_droplet(&server, vec![limited, droplet_ok()]).await;

    assert_eq!(client.droplet(111).await.unwrap().id, 111);
    assert_eq!(clock.sleeps(), secs(&[7]));
}

#[tokio::test]
async fn rate_limit_waits_for_future_reset() {
    let (server, clock, client) = setup().await;
    let limited = too_many().insert_header("ratelimit-reset", (START + 45).to_string().as_str());
    mount_droplet(&server, vec![limited, droplet_ok()]).await;

    client.droplet(111).await.unwrap();
    assert_eq!(clock.sleeps(), secs(&[45]));
}

#[tokio::test]
async fn rate_limit_clamps_absurd_reset() {
    let (server, clock, client) = setup().await;
    let ten_years = START + 10 * 365 * 24 * 3600;
    let limited = too_many().insert_header("ratelimit-reset", ten_years.to_string().as_str());
    let overflow = too_many().insert_header("ratelimit-reset", "99999999999999999999999");
    mount_droplet(&server, vec![limited, overflow, droplet_ok()]).await;

    client.droplet(111).await.unwrap();
    assert_eq!(clock.sleeps(), secs(&[120, 2]));
}

#[tokio::test]
async fn rate_limit_past_reset_backs_off() {
    let (server, clock, client) = setup().await;
    let limited = too_many().insert_header("ratelimit-reset", (START - 1500).to_string().as_str());
    mount_droplet(&server, vec![limited, droplet_ok()]).await;

    client.droplet(111).await.unwrap();
    assert_eq!(clock.sleeps(), secs(&[1]));
}

#[tokio::test]
async fn server_error_then_success_on_get() {
    let (server, clock, client) = setup().await;
    let unavailable =
        ResponseTemplate::new(503).set_body_string("<html>upstream unavailable</html>");
    mount_droplet(
        &server,
        vec![unavailable.clone(), unavailable, droplet_ok()],
    )
    .await;

    assert_eq!(
        client
            .droplet(111)
            .await
            .unwrap()
            .public_ipv4()
            .unwrap()
            .to_string(),
        "192.0.2.10"
    );
    assert_eq!(received(&server, "GET", "/v2/droplets/111").await.len(), 3);
    assert_eq!(clock.sleeps(), secs(&[1, 2]));
}

#[tokio::test]
async fn retries_run_out_with_full_error() {
    let (server, clock, client) = setup().await;
    mount_droplet(
        &server,
        vec![
            ResponseTemplate::new(503)
                .insert_header("x-request-id", "req-503-abc")
                .set_body_json(error_json("server_error", "Unexpected server-side error")),
        ],
    )
    .await;

    let error = client.droplet(111).await.unwrap_err();
    assert!(matches!(error, CloudError::Server { .. }), "{error:?}");
    assert_eq!(error.status(), Some(503));
    let text = error.to_string();
    assert!(text.contains("`GET /v2/droplets/111`"), "{text}");
    assert!(text.contains("HTTP 503 server_error"), "{text}");
    assert!(text.contains("Unexpected server-side error"), "{text}");
    assert!(text.contains("x-request-id req-503-abc"), "{text}");
    assert!(text.contains("after 5 attempts"), "{text}");
    assert_eq!(clock.sleeps(), secs(&[1, 2, 4, 8]));
}

#[tokio::test]
async fn connection_errors_retry_get() {
    let (server, clock, client) = setup().await;
    Mock::given(method("GET"))
        .and(path("/v2/droplets/111"))
        .respond_with_err(|_: &wiremock::Request| {
            std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset")
        })
        .up_to_n_times(2)
        .mount(&server)
        .await;
    mount_droplet(&server, vec![droplet_ok()]).await;

    assert_eq!(client.droplet(111).await.unwrap().id, 111);
    assert_eq!(clock.sleeps(), secs(&[1, 2]));
}

#[tokio::test]
async fn unreachable_api_is_a_network_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    drop(listener);
    let clock = Arc::new(ManualClock::new(start()));
    let config = wwctl::cloud::CloudConfig {
        policy: RetryPolicy {
            max_attempts: 2,
            ..policy()
        },
        ..wwctl::cloud::CloudConfig::new(
            format!("http://{address}"),
            wwctl::secret::Secret::new("token"),
        )
    };
    let client = wwctl::cloud::CloudClient::new(config, clock.clone()).unwrap();

    let error = client.account().await.unwrap_err();
    assert!(
        matches!(error, CloudError::Network { attempts: 2, .. }),
        "{error:?}"
    );
    assert!(
        error
            .to_string()
            .contains("`GET /v2/account` failed after 2 attempts"),
        "{error}"
    );
    assert_eq!(clock.sleeps(), secs(&[1]));
}

#[tokio::test]
async fn create_500_adopts_without_second_post() {
    let server = MockServer::start().await;
    let fake = DropletFake::mount(&server, PostAnswer::CreatedThen500).await;
    let clock = Arc::new(ManualClock::new(start()));
    let client = client_with(&server, &clock, policy());

    let created = client
        .create_droplet(&spec(), "wwctl-run:post500")
        .await
        .unwrap();
    assert!(created.adopted);
    assert_eq!(created.id(), 5001);
    assert_eq!(received(&server, "POST", "/v2/droplets").await.len(), 1);
    assert_eq!(received(&server, "GET", "/v2/droplets").await.len(), 2);
    assert_eq!(fake.droplet_count(), 1);
}

#[tokio::test]
async fn create_timeout_adopts_without_second_post() {
    let server = MockServer::start().await;
    let fake = DropletFake::mount(&server, PostAnswer::AcceptedAfter(Duration::from_secs(3))).await;
    let clock = Arc::new(ManualClock::new(start()));
    let client = client_with(
        &server,
        &clock,
        RetryPolicy {
            request_timeout: Duration::from_millis(300),
            ..policy()
        },
    );

    let created = client
        .create_droplet(&spec(), "wwctl-run:timeout")
        .await
        .unwrap();
    assert!(created.adopted);
    assert_eq!(received(&server, "POST", "/v2/droplets").await.len(), 1);
    assert_eq!(fake.droplet_count(), 1);
}

#[tokio::test]
async fn create_unconfirmed_fails_after_every_attempt() {
    let server = MockServer::start().await;
    let fake = DropletFake::mount(&server, PostAnswer::Failed500).await;
    let clock = Arc::new(ManualClock::new(start()));
    let client = client_with(&server, &clock, policy());
    let attempts = policy().max_attempts as usize;

    let error = client
        .create_droplet(&spec(), "wwctl-run:lost")
        .await
        .unwrap_err();
    assert!(
        matches!(error, CloudError::CreateUnconfirmed { .. }),
        "{error:?}"
    );
    let text = error.to_string();
    assert!(
        text.contains("app-2023") && text.contains("wwctl-run:lost"),
        "{text}"
    );
    assert!(text.contains("rerun"), "{text}");
    // Each POST is followed by three lookups before the next one.
    assert_eq!(
        received(&server, "POST", "/v2/droplets").await.len(),
        attempts
    );
    assert_eq!(
        received(&server, "GET", "/v2/droplets").await.len(),
        1 + 3 * attempts
    );
    assert_eq!(fake.droplet_count(), 0);
}

#[tokio::test]
async fn create_posts_again_when_lookups_find_nothing() {
    let server = MockServer::start().await;
    let fake = DropletFake::mount(&server, PostAnswer::Failed500Once).await;
    let clock = Arc::new(ManualClock::new(start()));
    let client = client_with(&server, &clock, policy());

    let created = client
        .create_droplet(&spec(), "wwctl-run:again")
        .await
        .unwrap();
    assert!(!created.adopted);
    assert_eq!(received(&server, "POST", "/v2/droplets").await.len(), 2);
    assert_eq!(fake.droplet_count(), 1, "one droplet for one step");
}

#[tokio::test]
async fn create_adopts_existing_before_post() {
    let server = MockServer::start().await;
    DropletFake::mount(&server, PostAnswer::Accepted).await;
    let clock = Arc::new(ManualClock::new(start()));
    let client = client_with(&server, &clock, policy());

    let first = client
        .create_droplet(&spec(), "wwctl-run:twice")
        .await
        .unwrap();
    let second = client
        .create_droplet(&spec(), "wwctl-run:twice")
        .await
        .unwrap();
    assert!(!first.adopted);
    assert!(second.adopted);
    assert_eq!(first.id(), second.id());
    assert_eq!(received(&server, "POST", "/v2/droplets").await.len(), 1);

    let posted: serde_json::Value = received(&server, "POST", "/v2/droplets").await[0]
        .body_json()
        .unwrap();
    assert_eq!(posted["tags"], json!(["wwctl-run:twice"]));
}

#[tokio::test]
async fn unauthorized_names_scope() {
    let (server, _clock, client) = setup().await;
    Mock::given(method("GET"))
        .and(path("/v2/account"))
        .respond_with(
            ResponseTemplate::new(401)
                .insert_header("x-request-id", "req-401")
                .set_body_json(error_json("unauthorized", "Unable to authenticate you")),
        )
        .mount(&server)
        .await;

    let error = client.account().await.unwrap_err();
    assert!(
        matches!(error, CloudError::Unauthorized { .. }),
        "{error:?}"
    );
    let text = error.to_string();
    assert!(text.contains("invalid or expired"), "{text}");
    assert!(text.contains("`account:read`"), "{text}");
    assert!(text.contains("req-401"), "{text}");
    let exit = wwctl::error::exit_code_for(&anyhow::Error::new(error));
    assert_eq!(exit, wwctl::error::ExitCode::Api);
}

#[tokio::test]
async fn budget_pauses_past_240_a_minute() {
    let (server, clock, client) = setup().await;
    mount_droplet(&server, vec![droplet_ok()]).await;

    for _ in 0..241 {
        client.droplet(111).await.unwrap();
    }
    assert_eq!(clock.sleeps(), secs(&[60]));
}

#[tokio::test]
async fn budget_slows_when_remaining_is_low() {
    let (server, clock, client) = setup().await;
    let low = droplet_ok()
        .insert_header("ratelimit-remaining", "9")
        .insert_header("ratelimit-reset", (START + 100).to_string().as_str());
    mount_droplet(&server, vec![low]).await;

    client.droplet(111).await.unwrap();
    client.droplet(111).await.unwrap();
    assert_eq!(clock.sleeps(), secs(&[10]));
}

#[tokio::test]
async fn ssh_key_list_is_cached() {
    let (server, _clock, client) = setup().await;
    Mock::given(method("GET"))
        .and(path("/v2/account/keys"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "ssh_keys": [{"id": 512189, "fingerprint": "3b:16:bf:e4:8b:00:8b:b8:59:8c:a9:d3:f0:19:45:fa", "public_key": "ssh-ed25519 AAAAkey operator@laptop", "name": "operator"}],
            "links": {}, "meta": {"total": 1}
        })))
        .mount(&server)
        .await;

    for _ in 0..3 {
        assert_eq!(client.ssh_keys().await.unwrap().len(), 1);
    }
    let key = client
        .ensure_ssh_key("wwctl", "ssh-ed25519 AAAAkey other-comment")
        .await
        .unwrap();
    assert_eq!(key.id, 512189);
    assert_eq!(received(&server, "GET", "/v2/account/keys").await.len(), 1);
    assert!(
        received(&server, "POST", "/v2/account/keys")
            .await
            .is_empty()
    );
}
