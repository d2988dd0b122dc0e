//! An HTTP client for the emulator's API, direct or through Prism. Through
//! Prism every reply is checked for contract violations.

use std::time::{Duration, Instant};

use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// The header Prism adds when a request or response breaks the spec.
pub const VIOLATIONS_HEADER: &str = "sl-violations";

/// Settings that make droplets boot and actions finish quickly.
pub fn fast_settings() -> Value {
    json!({
        "boot_time": "300ms",
        "ip_delay": "200ms",
        "action_duration": "300ms",
    })
}

/// Make a new token, and so a new empty account, for one test.
pub fn new_token(label: &str) -> String {
    let suffix: u64 = rand::random();
    format!("sandbox-test-{label}-{suffix:016x}")
}

#[derive(Clone)]
pub struct Api {
    client: reqwest::Client,
    pub base: String,
    pub token: String,
    /// Whether replies come through Prism and must carry no violation.
    pub through_prism: bool,
}

#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Reply {
    /// Assert the status, showing the body when it differs.
    pub fn expect(self, status: u16) -> Self {
        assert_eq!(
            self.status.as_u16(),
            status,
            "unexpected status; body: {}",
            self.body
        );
        self
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }
}

impl Api {
    pub fn new(base: &str, token: &str, through_prism: bool) -> Self {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .expect("an HTTP client");
        Self {
            client,
            base: base.trim_end_matches('/').to_string(),
            token: token.to_string(),
            through_prism,
        }
    }

    /// Send a request; transport errors (a dropped connection) are returned.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Reply, reqwest::Error> {
        let url = if path.starts_with("http") {
            path.to_string()
        } else {
            format!("{}{path}", self.base)
        };
        let mut request = self.client.request(method, url).bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await?;
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.bytes().await?;
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        };
        Ok(Reply {
            status,
            headers,
            body,
        })
    }

    /// Send a request that must reach the emulator and, through Prism,
    /// pass the contract in both directions.
    pub async fn call(&self, method: Method, path: &str, body: Option<&Value>) -> Reply {
        let reply = self
            .send(method.clone(), path, body)
            .await
            .unwrap_or_else(|error| panic!("{method} {path} failed: {error}"));
        if self.through_prism {
            assert_no_violation(&method, path, &reply);
        }
        reply
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.call(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Reply {
        self.call(Method::POST, path, Some(&body)).await
    }

    pub async fn put(&self, path: &str, body: Value) -> Reply {
        self.call(Method::PUT, path, Some(&body)).await
    }

    pub async fn patch(&self, path: &str, body: Value) -> Reply {
        self.call(Method::PATCH, path, Some(&body)).await
    }

    pub async fn delete(&self, path: &str) -> Reply {
        self.call(Method::DELETE, path, None).await
    }

    pub async fn delete_with(&self, path: &str, body: Value) -> Reply {
        self.call(Method::DELETE, path, Some(&body)).await
    }

    /// Poll a droplet until `done` accepts it; panics after `timeout`.
    pub async fn wait_droplet(
        &self,
        id: u64,
        timeout: Duration,
        done: impl Fn(&Value) -> bool,
    ) -> Value {
        let started = Instant::now();
        loop {
            let droplet = self
                .get(&format!("/v2/droplets/{id}"))
                .await
                .expect(200)
                .body["droplet"]
                .clone();
            if done(&droplet) {
                return droplet;
            }
            assert!(
                started.elapsed() < timeout,
                "droplet {id} did not reach the expected state within {timeout:?}: {droplet}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Poll an action until it is no longer `in-progress`; returns it.
    pub async fn wait_action(&self, id: u64, timeout: Duration) -> Value {
        let started = Instant::now();
        loop {
            let action = self
                .get(&format!("/v2/actions/{id}"))
                .await
                .expect(200)
                .body["action"]
                .clone();
            if action["status"] != "in-progress" {
                return action;
            }
            assert!(
                started.elapsed() < timeout,
                "action {id} was still in progress after {timeout:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Fail when Prism reported a violation of the spec.
pub fn assert_no_violation(method: &Method, path: &str, reply: &Reply) {
    if let Some(violations) = reply.header(VIOLATIONS_HEADER) {
        panic!("Prism found spec violations in {method} {path}: {violations}");
    }
    let content_type = reply.header("content-type").unwrap_or_default();
    assert!(
        !content_type.starts_with("application/problem+json"),
        "Prism answered {method} {path} itself ({}): {}",
        reply.status,
        reply.body
    );
}

/// Return the public IPv4 of a droplet, if it has one.
pub fn public_ipv4(droplet: &Value) -> Option<String> {
    droplet["networks"]["v4"]
        .as_array()?
        .iter()
        .find(|network| network["type"] == "public")
        .and_then(|network| network["ip_address"].as_str())
        .map(str::to_string)
}

/// Build a syntactically valid Ed25519 public key in OpenSSH format,
/// different for each seed.
pub fn test_public_key(seed: u8) -> String {
    let bytes: [u8; 32] = std::array::from_fn(|index| seed.wrapping_add(index as u8));
    let key_data = ssh_key::public::KeyData::Ed25519(ssh_key::public::Ed25519PublicKey(bytes));
    let mut key = ssh_key::PublicKey::from(key_data);
    key.set_comment("ops@example");
    key.to_openssh().expect("an OpenSSH public key")
}
