//! The steps every request passes before its handler: a request id, the
//! bearer token, injected latency, the rate limits, and injected faults.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::sandbox::api::conn::Connection;
use crate::sandbox::api::error::{ApiError, REQUEST_ID};
use crate::sandbox::api::request::Caller;
use crate::sandbox::app::App;
use crate::sandbox::faults::Fault;
use crate::sandbox::ratelimit::{Admission, RateHeaders};
use crate::sandbox::state::random_uuid;
use crate::sandbox::token::AccountKey;

/// Paths of the admin API, outside `/v2`.
pub const ADMIN_PREFIX: &str = "/_sandbox/";

/// `GET /v2/account/keys` requests allowed per minute.
const KEY_LISTINGS_PER_MINUTE: u32 = 10;

/// The account of an admin request.
#[derive(Clone, Debug)]
pub struct AdminCaller {
    pub account: AccountKey,
}

/// Give the request an id, route it through the admin or `/v2` gate, and
/// put the id on the response.
pub async fn pipeline(State(app): State<Arc<App>>, request: Request, next: Next) -> Response {
    let request_id = random_uuid();
    let method = request.method().clone();
    let path = request.uri().path().to_string();

    let mut response = REQUEST_ID
        .scope(request_id.clone(), async move {
            if request.uri().path().starts_with(ADMIN_PREFIX) {
                admin_gate(request, next).await
            } else {
                api_gate(&app, request, next).await
            }
        })
        .await;

    tracing::debug!(%method, %path, status = response.status().as_u16(), %request_id, "request");
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert("x-request-id", value);
    }
    response
}

async fn admin_gate(mut request: Request, next: Next) -> Response {
    if request.uri().path() == "/_sandbox/health" {
        return next.run(request).await;
    }
    let Some(account) = bearer_account(request.headers()) else {
        return ApiError::unauthorized().into_response();
    };
    request.extensions_mut().insert(AdminCaller { account });
    next.run(request).await
}

/// The decision of the limits and faults on a `/v2` request.
enum Gate {
    Pass(RateHeaders, Fault),
    Limited(RateHeaders, Option<u64>),
}

async fn api_gate(app: &App, mut request: Request, next: Next) -> Response {
    let Some(account) = bearer_account(request.headers()) else {
        let mut response = ApiError::unauthorized().into_response();
        let settings = app.default_settings;
        put_rate_headers(
            &mut response,
            RateHeaders {
                limit: settings.rate_limit_per_hour,
                remaining: settings.rate_limit_per_hour,
                reset: jiff::Timestamp::now().as_second(),
            },
        );
        return response;
    };

    let faults = app.faults(&account);
    if !faults.latency.is_zero() {
        tokio::time::sleep(faults.latency).await;
    }

    let settings = app.settings(&account);
    let is_key_listing =
        request.method() == Method::GET && request.uri().path() == "/v2/account/keys";
    let now = Instant::now();
    let gate = app.with_runtime(&account, |runtime| {
        let headers = match runtime.requests.admit(
            now,
            settings.rate_limit_per_minute,
            settings.rate_limit_per_hour,
        ) {
            Admission::Allowed(headers) => headers,
            Admission::Limited {
                headers,
                retry_after,
            } => return Gate::Limited(headers, retry_after),
        };
        let fault = faults.draw(&mut runtime.rng);
        if fault == Fault::None && is_key_listing {
            if let Err(wait) = runtime.key_listings.admit(now, KEY_LISTINGS_PER_MINUTE) {
                return Gate::Limited(headers, Some(wait));
            }
        }
        Gate::Pass(headers, fault)
    });

    let connection = request
        .extensions()
        .get::<ConnectInfo<Connection>>()
        .map(|info| info.0.clone());
    let (headers, fault) = match gate {
        Gate::Limited(headers, retry_after) => {
            tracing::info!(account = %account, "rate limit reached");
            return too_many_requests(headers, retry_after);
        }
        Gate::Pass(headers, fault) => (headers, fault),
    };

    let mut response = match fault {
        Fault::TooManyRequests => {
            tracing::info!(account = %account, "injected fault: 429");
            return too_many_requests(
                RateHeaders {
                    remaining: 0,
                    ..headers
                },
                Some(1),
            );
        }
        Fault::ServerError(status) => {
            tracing::info!(account = %account, status, "injected fault: server error");
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            ApiError::server_error(status).into_response()
        }
        Fault::Reset => {
            tracing::info!(account = %account, "injected fault: connection reset before handling");
            drop_connection(connection.as_ref());
            ApiError::server_error(StatusCode::INTERNAL_SERVER_ERROR).into_response()
        }
        Fault::None | Fault::Lost => {
            let method = request.method().as_str().to_string();
            let route = format!("{method} {}", route_of(request.uri().path()));
            app.with_runtime(&account, |runtime| {
                *runtime.handled.entry(method).or_default() += 1;
                *runtime.handled_routes.entry(route).or_default() += 1;
            });
            let base_url = base_url(app, request.headers());
            request.extensions_mut().insert(Caller {
                account: account.clone(),
                base_url,
            });
            let response = next.run(request).await;
            if fault == Fault::Lost {
                tracing::info!(account = %account, "injected fault: response lost after handling");
                drop_connection(connection.as_ref());
            }
            response
        }
    };
    put_rate_headers(&mut response, headers);
    response
}

/// Derive the account from the request's `Authorization: Bearer sandbox-…`
/// header.
fn bearer_account(headers: &HeaderMap) -> Option<AccountKey> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    AccountKey::from_token(token.trim())
}

fn drop_connection(connection: Option<&Connection>) {
    match connection {
        Some(connection) => connection.drop_without_answer(),
        None => tracing::warn!("cannot drop a connection the server does not track"),
    }
}

/// Choose the base URL for links: `--public-url`, else the host the client
/// used.
fn base_url(app: &App, headers: &HeaderMap) -> String {
    if let Some(url) = &app.public_url {
        return url.trim_end_matches('/').to_string();
    }
    let host = headers
        .get("x-forwarded-host")
        .or_else(|| headers.get(header::HOST))
        .and_then(|value| value.to_str().ok())
        .unwrap_or("127.0.0.1");
    format!("http://{host}")
}

fn too_many_requests(headers: RateHeaders, retry_after: Option<u64>) -> Response {
    let mut response = ApiError::too_many_requests().into_response();
    put_rate_headers(&mut response, headers);
    if let Some(seconds) = retry_after {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    response
}

fn put_rate_headers(response: &mut Response, headers: RateHeaders) {
    let map = response.headers_mut();
    map.insert("ratelimit-limit", HeaderValue::from(headers.limit));
    map.insert("ratelimit-remaining", HeaderValue::from(headers.remaining));
    map.insert("ratelimit-reset", HeaderValue::from(headers.reset));
}

/// Returns a request path with each numeric id replaced by `{id}`, so requests to
/// one endpoint count together: `/v2/droplets/7/actions` becomes
/// `/v2/droplets/{id}/actions`.
fn route_of(path: &str) -> String {
    path.split('/')
        .map(|segment| {
            if !segment.is_empty() && segment.bytes().all(|byte| byte.is_ascii_digit()) {
                "{id}"
            } else {
                segment
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}
