//! A fake of one POST endpoint and the collection it adds to, for the
//! adoption tests. Each POST plays the next scripted [`Answer`]: some store
//! the object and still fail, as a server that crashed after the write or a
//! connection lost on the way back would. The lookups each test mounts read
//! the stored objects through [`PostFake::visible`].

use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use super::harness::error_json;

/// What the fake does with one POST.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// Stores the object and returns it.
    Created,
    /// Stores the object, then returns 500 with request id `req-stored-500`.
    StoredThen500,
    /// Returns 503 with request id `req-503` and stores nothing.
    Unprocessed503,
    /// Returns 422 with this message and stores nothing.
    Rejected(&'static str),
    /// Stores the object, then drops the connection without a response.
    StoredThenReset,
    /// Drops the connection without a response and stores nothing.
    ResetUnprocessed,
}

impl Answer {
    fn is_reset(self) -> bool {
        matches!(self, Answer::StoredThenReset | Answer::ResetUnprocessed)
    }
}

/// Builds the stored object from the POST body and a new id.
type Make = dyn Fn(&Value, u64) -> Value + Send + Sync;

struct State {
    objects: Vec<Value>,
    next_id: u64,
    hidden_lookups: usize,
}

#[derive(Clone)]
pub struct PostFake {
    state: Arc<Mutex<State>>,
}

impl PostFake {
    /// Creates a fake that contains `objects`. New objects get ids from
    /// `first_id` on.
    pub fn new(first_id: u64, objects: Vec<Value>) -> Self {
        Self {
            state: Arc::new(Mutex::new(State {
                objects,
                next_id: first_id,
                hidden_lookups: 0,
            })),
        }
    }

    /// Makes the next `lookups` calls of [`Self::visible`] see nothing, as
    /// an API that lists a new object late would.
    pub fn hide_from_lookups(&self, lookups: usize) {
        self.state.lock().unwrap().hidden_lookups = lookups;
    }

    /// Returns every stored object.
    pub fn objects(&self) -> Vec<Value> {
        self.state.lock().unwrap().objects.clone()
    }

    /// Returns the objects one lookup finds.
    pub fn visible(&self) -> Vec<Value> {
        let mut state = self.state.lock().unwrap();
        if state.hidden_lookups > 0 {
            state.hidden_lookups -= 1;
            return Vec::new();
        }
        state.objects.clone()
    }

    /// Mount `POST post_path`. Leading resets in `answers` take the first
    /// POSTs; the other answers follow in order, and the last one repeats.
    /// A success returns `status` with the object under `key`.
    pub async fn mount_post(
        &self,
        server: &MockServer,
        post_path: &str,
        key: &'static str,
        status: u16,
        answers: &[Answer],
        make: impl Fn(&Value, u64) -> Value + Send + Sync + 'static,
    ) {
        let make: Arc<Make> = Arc::new(make);
        let resets = answers
            .iter()
            .take_while(|answer| answer.is_reset())
            .count();

        for answer in &answers[..resets] {
            let fake = self.clone();
            let make = make.clone();
            let stores = *answer == Answer::StoredThenReset;
            Mock::given(method("POST"))
                .and(path(post_path))
                .respond_with_err(move |request: &Request| {
                    if stores {
                        fake.store(request, make.as_ref());
                    }
                    std::io::Error::new(std::io::ErrorKind::ConnectionReset, "injected reset")
                })
                .up_to_n_times(1)
                .with_priority(1)
                .mount(server)
                .await;
        }

        let rest = answers[resets..].to_vec();
        if rest.is_empty() {
            return;
        }
        let fake = self.clone();
        let next = Arc::new(Mutex::new(0usize));
        Mock::given(method("POST"))
            .and(path(post_path))
            .respond_with(move |request: &Request| {
                let mut index = next.lock().unwrap();
                let answer = rest[(*index).min(rest.len() - 1)];
                *index += 1;
                fake.answer(request, answer, key, status, make.as_ref())
            })
            .with_priority(2)
            .mount(server)
            .await;
    }

    fn answer(
        &self,
        request: &Request,
        answer: Answer,
        key: &str,
        status: u16,
        make: &Make,
    ) -> ResponseTemplate {
        match answer {
            Answer::Created => {
                let object = self.store(request, make);
                ResponseTemplate::new(status).set_body_json(json!({ key: object }))
            }
            Answer::StoredThen500 => {
                self.store(request, make);
                ResponseTemplate::new(500)
                    .insert_header("x-request-id", "req-stored-500")
                    .set_body_json(error_json("server_error", "Unexpected server-side error"))
            }
            Answer::Unprocessed503 => ResponseTemplate::new(503)
                .insert_header("x-request-id", "req-503")
                .set_body_json(error_json("service_unavailable", "Service unavailable")),
            Answer::Rejected(message) => ResponseTemplate::new(422)
                .insert_header("x-request-id", "req-422")
                .set_body_json(error_json("unprocessable_entity", message)),
            Answer::StoredThenReset | Answer::ResetUnprocessed => {
                unreachable!("resets are mounted as their own mocks")
            }
        }
    }

    fn store(&self, request: &Request, make: &Make) -> Value {
        let body: Value = request.body_json().unwrap();
        let mut state = self.state.lock().unwrap();
        let id = state.next_id;
        state.next_id += 1;
        let object = make(&body, id);
        state.objects.push(object.clone());
        object
    }
}

/// Mount `GET list_path` listing what [`PostFake::visible`] returns under `key`.
pub async fn mount_list(server: &MockServer, list_path: &str, key: &'static str, fake: &PostFake) {
    let fake = fake.clone();
    Mock::given(method("GET"))
        .and(path(list_path))
        .respond_with(move |_: &Request| {
            let items = fake.visible();
            let total = items.len();
            ResponseTemplate::new(200)
                .set_body_json(json!({ key: items, "links": {}, "meta": {"total": total} }))
        })
        .mount(server)
        .await;
}

/// Mount `GET get_path` answering the first visible object that `pick`
/// accepts, under `key`, or 404.
pub async fn mount_get(
    server: &MockServer,
    get_path: &str,
    key: &'static str,
    fake: &PostFake,
    pick: impl Fn(&Value) -> bool + Send + Sync + 'static,
) {
    let fake = fake.clone();
    Mock::given(method("GET"))
        .and(path(get_path))
        .respond_with(move |_: &Request| {
            match fake.visible().into_iter().find(|object| pick(object)) {
                Some(object) => ResponseTemplate::new(200).set_body_json(json!({ key: object })),
                None => ResponseTemplate::new(404).set_body_json(error_json(
                    "not_found",
                    "The resource you requested could not be found.",
                )),
            }
        })
        .mount(server)
        .await;
}
