//! The token never reaches a log line, an error or a debug print, even at
//! TRACE level and through retries.

use std::io::Write;
use std::sync::{Arc, Mutex};

use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};
use wwctl::cloud::{CloudError, DropletSpec, ImageRef};

use super::harness::{
    DropletFake, PostAnswer, Sequence, TOKEN, droplet_json, error_json, public_networks, setup,
};

/// A `MakeWriter` that appends every log line to a shared buffer.
#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Buffer {
    type Writer = Buffer;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

#[tokio::test(flavor = "current_thread")]
async fn token_absent_from_logs_and_errors() {
    let buffer = Buffer::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(buffer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let (server, _clock, client) = setup().await;
    let ok = ResponseTemplate::new(200).set_body_json(
        json!({"droplet": droplet_json(111, "app", "active", public_networks("192.0.2.10"))}),
    );
    Mock::given(method("GET"))
        .and(path("/v2/droplets/111"))
        .respond_with(Sequence::new(vec![
            ResponseTemplate::new(503),
            ResponseTemplate::new(429).insert_header("retry-after", "1"),
            ok,
        ]))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v2/account"))
        .respond_with(
            ResponseTemplate::new(401)
                .insert_header("x-request-id", "req-401")
                .set_body_json(error_json(
                    "unauthorized",
                    &format!("bad header: Bearer {TOKEN}"),
                )),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v2/firewalls/fw-1"))
        .respond_with(
            ResponseTemplate::new(502)
                .set_body_string(format!("proxy echo Authorization: Bearer {TOKEN}")),
        )
        .mount(&server)
        .await;

    // Mounted last: the fake's own droplet routes would shadow the ones above.
    DropletFake::mount(&server, PostAnswer::CreatedThen500).await;

    // Other tests running on other threads may have registered the client's
    // log callsites as disabled before this subscriber existed; recompute.
    tracing::callsite::rebuild_interest_cache();

    let mut errors: Vec<CloudError> = Vec::new();
    client.droplet(111).await.unwrap();
    errors.push(client.account().await.unwrap_err());
    errors.push(client.firewall("fw-1").await.unwrap_err());
    errors.push(client.droplet(999_999).await.unwrap_err());
    let spec = DropletSpec::new(
        "app",
        "nyc3",
        "s-1vcpu-1gb",
        ImageRef::Slug("debian-12-x64".into()),
    );
    assert!(
        client
            .create_droplet(&spec, "wwctl-run:redact")
            .await
            .unwrap()
            .adopted
    );
    let token_sent = server.received_requests().await.unwrap()[0].headers["authorization"]
        .to_str()
        .unwrap()
        .to_string();
    assert_eq!(token_sent, format!("Bearer {TOKEN}"));

    let mut printed = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
    assert!(
        printed.contains("retrying DigitalOcean API request"),
        "{printed}"
    );
    assert!(printed.contains("TRACE"), "{printed}");
    for error in &errors {
        printed.push_str(&format!("{error}\n{error:?}\n"));
        printed.push_str(&wwctl::error::render(&anyhow::anyhow!(format!("{error}"))));
    }
    printed.push_str(&format!("{client:?}"));
    assert!(printed.contains("[redacted]"), "{printed}");
    assert!(!printed.contains(TOKEN), "the token leaked:\n{printed}");
    assert!(
        !printed.contains("5ecret0token"),
        "part of the token leaked:\n{printed}"
    );
}
