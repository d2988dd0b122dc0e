//! Shared setup for the cloud tests: a client bound to a mock server and a
//! manual clock, JSON builders, and a stateful droplet fake.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jiff::Timestamp;
use serde_json::{Value, json};
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};
use wwctl::clock::ManualClock;
use wwctl::cloud::{BudgetConfig, CloudClient, CloudConfig, RetryPolicy};
use wwctl::secret::Secret;

/// A token that must never show up in output.
pub const TOKEN: &str = "dop_v1_5ecret0token0that0must0never0be0printed";

/// The manual clock's start: 2023-11-14T22:13:20Z.
pub const START: i64 = 1_700_000_000;

pub fn start() -> Timestamp {
    Timestamp::from_second(START).unwrap()
}

/// Returns the default policy without jitter, so waits are exact.
pub fn policy() -> RetryPolicy {
    RetryPolicy {
        jitter: false,
        ..RetryPolicy::default()
    }
}

/// Builds a client for `server` whose waits go to `clock`.
pub fn client_with(
    server: &MockServer,
    clock: &Arc<ManualClock>,
    policy: RetryPolicy,
) -> CloudClient {
    let config = CloudConfig {
        api_url: server.uri(),
        token: Secret::new(TOKEN),
        policy,
        budget: BudgetConfig::default(),
    };
    CloudClient::new(config, clock.clone()).unwrap()
}

/// Starts a mock server, a manual clock and a client with [`policy`].
pub async fn setup() -> (MockServer, Arc<ManualClock>, CloudClient) {
    let server = MockServer::start().await;
    let clock = Arc::new(ManualClock::new(start()));
    let client = client_with(&server, &clock, policy());
    (server, clock, client)
}

pub fn secs(values: &[u64]) -> Vec<Duration> {
    values
        .iter()
        .map(|value| Duration::from_secs(*value))
        .collect()
}

/// The requests `server` received with this method and path.
pub async fn received(server: &MockServer, verb: &str, request_path: &str) -> Vec<Request> {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|request| request.method.as_str() == verb && request.url.path() == request_path)
        .collect()
}

/// Requests that change something: POST, PUT, PATCH and DELETE.
pub async fn writes(server: &MockServer) -> Vec<Request> {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|request| request.method.as_str() != "GET")
        .collect()
}

pub fn droplet_json(id: u64, name: &str, status: &str, networks: Value) -> Value {
    json!({
        "id": id, "name": name, "status": status, "locked": false,
        "memory": 1024, "vcpus": 1, "disk": 25,
        "region": {"slug": "nyc3", "name": "New York 3"},
        "size_slug": "s-1vcpu-1gb", "tags": [], "networks": networks,
        "created_at": "2023-11-14T22:13:20Z", "features": ["monitoring"]
    })
}

pub fn public_networks(address: &str) -> Value {
    json!({"v4": [
        {"ip_address": "10.116.0.2", "netmask": "255.255.240.0", "gateway": "nil", "type": "private"},
        {"ip_address": address, "netmask": "255.255.240.0", "gateway": "192.0.2.1", "type": "public"}
    ], "v6": []})
}

pub fn action_json(id: u64, status: &str, kind: &str, droplet_id: u64) -> Value {
    json!({
        "id": id, "status": status, "type": kind,
        "started_at": "2023-11-14T22:13:20Z", "completed_at": null,
        "resource_id": droplet_id, "resource_type": "droplet", "region_slug": "nyc3"
    })
}

pub fn error_json(id: &str, message: &str) -> Value {
    json!({"id": id, "message": message})
}

/// A responder that plays `responses` in order and repeats the last one.
pub struct Sequence {
    responses: Vec<ResponseTemplate>,
    next: AtomicUsize,
}

impl Sequence {
    pub fn new(responses: Vec<ResponseTemplate>) -> Self {
        assert!(!responses.is_empty());
        Self {
            responses,
            next: AtomicUsize::new(0),
        }
    }
}

impl Respond for Sequence {
    fn respond(&self, _request: &Request) -> ResponseTemplate {
        let index = self.next.fetch_add(1, Ordering::SeqCst);
        self.responses[index.min(self.responses.len() - 1)].clone()
    }
}

/// The droplet fake's response to `POST /v2/droplets`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PostAnswer {
    /// 202 with the droplet.
    Accepted,
    /// 202, sent only after this long.
    AcceptedAfter(Duration),
    /// The droplet is created, but the response is a 500.
    CreatedThen500,
    /// A 500 and no droplet.
    Failed500,
    /// A 500 and no droplet for the first POST, then 202 like `Accepted`.
    Failed500Once,
}

#[derive(Debug)]
struct DropletState {
    droplets: Vec<Value>,
    next_id: u64,
    answer: PostAnswer,
}

/// A stateful fake of the droplet endpoints. A POST adds a droplet with the
/// request's name and tags, and listing by tag, getting by id and the create
/// action read that state. Every droplet is active with 192.0.2.10.
#[derive(Clone)]
pub struct DropletFake {
    state: Arc<Mutex<DropletState>>,
}

impl DropletFake {
    pub async fn mount(server: &MockServer, answer: PostAnswer) -> Self {
        let fake = Self {
            state: Arc::new(Mutex::new(DropletState {
                droplets: Vec::new(),
                next_id: 5001,
                answer,
            })),
        };

        let create = fake.clone();
        Mock::given(method("POST"))
            .and(path("/v2/droplets"))
            .respond_with(move |request: &Request| create.create(request))
            .mount(server)
            .await;
        let list = fake.clone();
        Mock::given(method("GET"))
            .and(path("/v2/droplets"))
            .respond_with(move |request: &Request| list.list(request))
            .mount(server)
            .await;
        Mock::given(method("GET"))
            .and(path_regex(r"^/v2/droplets/\d+/actions$"))
            .respond_with(|request: &Request| {
                let id = droplet_id_in(request);
                ResponseTemplate::new(200).set_body_json(json!({
                    "actions": [action_json(id + 1000, "completed", "create", id)],
                    "links": {}, "meta": {"total": 1}
                }))
            })
            .mount(server)
            .await;
        let get = fake.clone();
        Mock::given(method("GET"))
            .and(path_regex(r"^/v2/droplets/\d+$"))
            .respond_with(move |request: &Request| get.get(request))
            .mount(server)
            .await;
        Mock::given(method("GET"))
            .and(path_regex(r"^/v2/actions/\d+$"))
            .respond_with(|request: &Request| {
                let id: u64 = request
                    .url
                    .path()
                    .rsplit('/')
                    .next()
                    .unwrap()
                    .parse()
                    .unwrap();
                ResponseTemplate::new(200).set_body_json(
                    json!({"action": action_json(id, "completed", "create", id - 1000)}),
                )
            })
            .mount(server)
            .await;
        fake
    }

    pub fn droplet_count(&self) -> usize {
        self.state.lock().unwrap().droplets.len()
    }

    fn create(&self, request: &Request) -> ResponseTemplate {
        let body: Value = request.body_json().unwrap();
        let mut state = self.state.lock().unwrap();
        if state.answer == PostAnswer::Failed500Once {
            state.answer = PostAnswer::Accepted;
            return ResponseTemplate::new(500)
                .set_body_json(error_json("server_error", "Unexpected server-side error"));
        }
        if state.answer == PostAnswer::Failed500 {
            return ResponseTemplate::new(500)
                .set_body_json(error_json("server_error", "Unexpected server-side error"));
        }

        let id = state.next_id;
        state.next_id += 1;
        let mut droplet = droplet_json(
            id,
            body["name"].as_str().unwrap(),
            "active",
            public_networks("192.0.2.10"),
        );
        droplet["tags"] = body["tags"].clone();
        state.droplets.push(droplet.clone());

        let accepted = ResponseTemplate::new(202).set_body_json(json!({
            "droplet": droplet,
            "links": {"actions": [{"id": id + 1000, "rel": "create", "href": format!("https://api.digitalocean.com/v2/actions/{}", id + 1000)}]}
        }));
        match state.answer {
            PostAnswer::Accepted => accepted,
            PostAnswer::AcceptedAfter(delay) => accepted.set_delay(delay),
            PostAnswer::CreatedThen500 | PostAnswer::Failed500 | PostAnswer::Failed500Once => {
                ResponseTemplate::new(500)
                    .insert_header("x-request-id", "req-create-500")
                    .set_body_json(error_json("server_error", "Unexpected server-side error"))
            }
        }
    }

    fn list(&self, request: &Request) -> ResponseTemplate {
        let tag = request
            .url
            .query_pairs()
            .find(|(name, _)| name == "tag_name")
            .map(|(_, value)| value.into_owned());
        let state = self.state.lock().unwrap();
        let droplets: Vec<Value> = state
            .droplets
            .iter()
            .filter(|droplet| match &tag {
                Some(tag) => droplet["tags"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|own| own == tag),
                None => true,
            })
            .cloned()
            .collect();
        let total = droplets.len();
        ResponseTemplate::new(200)
            .set_body_json(json!({"droplets": droplets, "links": {}, "meta": {"total": total}}))
    }

    fn get(&self, request: &Request) -> ResponseTemplate {
        let id = droplet_id_in(request);
        let state = self.state.lock().unwrap();
        match state.droplets.iter().find(|droplet| droplet["id"] == id) {
            Some(droplet) => ResponseTemplate::new(200).set_body_json(json!({"droplet": droplet})),
            None => ResponseTemplate::new(404).set_body_json(error_json(
                "not_found",
                "The resource you requested could not be found.",
            )),
        }
    }
}

fn droplet_id_in(request: &Request) -> u64 {
    request
        .url
        .path()
        .split('/')
        .nth(3)
        .unwrap()
        .parse()
        .unwrap()
}
