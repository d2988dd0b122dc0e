//! The HTTP API: DigitalOcean's `/v2` endpoints the client uses, and the
//! sandbox's admin API under `/_sandbox/`.

pub mod account;
pub mod actions;
pub mod admin;
pub mod conn;
pub mod domains;
pub mod droplet_actions;
pub mod droplets;
pub mod error;
pub mod firewalls;
pub mod keys;
pub mod middleware;
pub mod pages;
pub mod record_checks;
pub mod records;
pub mod reply;
pub mod request;
pub mod snapshots;
pub mod tags;

use std::sync::{Arc, LazyLock};

use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use crate::sandbox::app::App;
use crate::sandbox::state::World;
use crate::sandbox::state::model::Account;
use crate::sandbox::token::AccountKey;
use error::ApiError;

pub type Shared = Arc<App>;

/// Build the router of every endpoint, behind the request pipeline.
pub fn router(app: Shared) -> Router {
    Router::new()
        .route("/v2/account", get(account::get))
        .route("/v2/account/keys", get(keys::list).post(keys::create))
        .route(
            "/v2/account/keys/{key}",
            get(keys::get).put(keys::update).delete(keys::delete),
        )
        .route(
            "/v2/droplets",
            get(droplets::list)
                .post(droplets::create)
                .delete(droplets::delete_by_tag),
        )
        .route("/v2/droplets/actions", post(droplet_actions::post_by_tag))
        .route(
            "/v2/droplets/{droplet_id}",
            get(droplets::get).delete(droplets::delete),
        )
        .route(
            "/v2/droplets/{droplet_id}/actions",
            get(droplet_actions::list).post(droplet_actions::post),
        )
        .route(
            "/v2/droplets/{droplet_id}/actions/{action_id}",
            get(droplet_actions::get),
        )
        .route(
            "/v2/droplets/{droplet_id}/snapshots",
            get(snapshots::list_for_droplet),
        )
        .route("/v2/actions", get(actions::list))
        .route("/v2/actions/{action_id}", get(actions::get))
        .route("/v2/snapshots", get(snapshots::list))
        .route(
            "/v2/snapshots/{snapshot_id}",
            get(snapshots::get).delete(snapshots::delete),
        )
        .route("/v2/tags", get(tags::list).post(tags::create))
        .route("/v2/tags/{tag}", get(tags::get).delete(tags::delete))
        .route(
            "/v2/tags/{tag}/resources",
            post(tags::assign).delete(tags::unassign),
        )
        .route(
            "/v2/firewalls",
            get(firewalls::list).post(firewalls::create),
        )
        .route(
            "/v2/firewalls/{firewall_id}",
            get(firewalls::get)
                .put(firewalls::update)
                .delete(firewalls::delete),
        )
        .route(
            "/v2/firewalls/{firewall_id}/droplets",
            post(firewalls::add_droplets).delete(firewalls::remove_droplets),
        )
        .route(
            "/v2/firewalls/{firewall_id}/tags",
            post(firewalls::add_tags).delete(firewalls::remove_tags),
        )
        .route(
            "/v2/firewalls/{firewall_id}/rules",
            post(firewalls::add_rules).delete(firewalls::remove_rules),
        )
        .route("/v2/domains", get(domains::list).post(domains::create))
        .route(
            "/v2/domains/{domain}",
            get(domains::get).delete(domains::delete),
        )
        .route(
            "/v2/domains/{domain}/records",
            get(records::list).post(records::create),
        )
        .route(
            "/v2/domains/{domain}/records/{record_id}",
            get(records::get)
                .put(records::update)
                .patch(records::update)
                .delete(records::delete),
        )
        .route("/_sandbox/health", get(admin::health))
        .route("/_sandbox/stats", get(admin::get_stats))
        .route(
            "/_sandbox/faults",
            get(admin::get_faults)
                .put(admin::put_faults)
                .delete(admin::delete_faults),
        )
        .route(
            "/_sandbox/settings",
            get(admin::get_settings)
                .put(admin::put_settings)
                .delete(admin::delete_settings),
        )
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            middleware::pipeline,
        ))
        .with_state(app)
}

async fn not_found() -> Response {
    ApiError::not_found().into_response()
}

async fn method_not_allowed() -> Response {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "The method is not allowed for the requested URL.",
    )
    .into_response()
}

/// An account that owns nothing, for reads by a token not seen before.
static EMPTY_ACCOUNT: LazyLock<Account> =
    LazyLock::new(|| Account::new(String::new(), jiff::Timestamp::UNIX_EPOCH));

/// Read an account; a token not seen before reads as an empty account.
pub fn account_of<'w>(world: &'w World, key: &AccountKey) -> &'w Account {
    world.account(key).unwrap_or(&EMPTY_ACCOUNT)
}

/// Parse an integer path id; anything else is not found, as on the real API.
pub fn parse_id(text: &str) -> Result<u64, ApiError> {
    text.parse().map_err(|_| ApiError::not_found())
}

/// Format a timestamp as the API does: RFC 3339 in UTC, whole seconds.
pub fn timestamp(time: jiff::Timestamp) -> String {
    time.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}
