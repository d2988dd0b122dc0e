//! The sandbox's admin API under `/_sandbox/`, outside DigitalOcean's
//! `/v2`. Faults and settings apply to the account of the bearer token, so
//! concurrent tests with their own tokens do not disturb each other.
//!
//! - `GET /_sandbox/health`: no token needed, and it succeeds once the
//!   emulator is ready.
//! - `GET|PUT|DELETE /_sandbox/faults`: the account's faults (PUT replaces
//!   them, DELETE returns to the `--faults` default).
//! - `GET|PUT|DELETE /_sandbox/settings`: boot time, address delay, action
//!   duration, rate limits, the droplet limit, hostless droplets and the
//!   next droplet's address (PUT changes the fields sent).
//! - `GET /_sandbox/stats`: the account's handled requests.

use axum::Extension;
use axum::extract::State;
use serde_json::json;

use crate::sandbox::api::Shared;
use crate::sandbox::api::error::{ApiError, ApiResult};
use crate::sandbox::api::middleware::AdminCaller;
use crate::sandbox::api::reply;
use crate::sandbox::api::request::JsonBody;
use crate::sandbox::faults::{FaultSpec, account_rng};
use crate::sandbox::settings::SettingsPatch;

pub async fn health(State(app): State<Shared>) -> ApiResult {
    let accounts = app.store.read(|world| world.accounts.len());
    Ok(reply::ok(json!({
        "status": "ok",
        "version": env!("CARGO_PKG_VERSION"),
        "pid": std::process::id(),
        "accounts": accounts,
        "time_scale": app.time_scale,
    })))
}

/// `GET /_sandbox/stats`: the account's handled requests by method, so a
/// test can tell whether a run wrote anything, and by method and route, so
/// a benchmark can count list calls.
pub async fn get_stats(
    State(app): State<Shared>,
    Extension(caller): Extension<AdminCaller>,
) -> ApiResult {
    let (handled, routes) = app.with_runtime(&caller.account, |runtime| {
        (runtime.handled.clone(), runtime.handled_routes.clone())
    });
    Ok(reply::ok(json!({ "handled": handled, "routes": routes })))
}

pub async fn get_faults(
    State(app): State<Shared>,
    Extension(caller): Extension<AdminCaller>,
) -> ApiResult {
    let faults = app.faults(&caller.account);
    Ok(reply::ok(faults_json(&faults)))
}

pub async fn put_faults(
    State(app): State<Shared>,
    Extension(caller): Extension<AdminCaller>,
    JsonBody(faults): JsonBody<FaultSpec>,
) -> ApiResult {
    faults.check().map_err(ApiError::unprocessable)?;
    let seed = faults.seed.unwrap_or(app.fault_seed);
    app.with_runtime(&caller.account, |runtime| {
        runtime.rng = account_rng(seed, &caller.account.0);
        runtime.faults = Some(faults.clone());
    });
    tracing::info!(account = %caller.account, faults = %faults, "faults changed");
    Ok(reply::ok(faults_json(&faults)))
}

pub async fn delete_faults(
    State(app): State<Shared>,
    Extension(caller): Extension<AdminCaller>,
) -> ApiResult {
    app.with_runtime(&caller.account, |runtime| {
        runtime.faults = None;
        runtime.rng = account_rng(app.fault_seed, &caller.account.0);
    });
    Ok(reply::ok(faults_json(&app.faults(&caller.account))))
}

pub async fn get_settings(
    State(app): State<Shared>,
    Extension(caller): Extension<AdminCaller>,
) -> ApiResult {
    Ok(reply::ok(json!(app.settings(&caller.account))))
}

pub async fn put_settings(
    State(app): State<Shared>,
    Extension(caller): Extension<AdminCaller>,
    JsonBody(patch): JsonBody<SettingsPatch>,
) -> ApiResult {
    let settings = app
        .settings(&caller.account)
        .patched(&patch)
        .map_err(ApiError::unprocessable)?;
    app.with_runtime(&caller.account, |runtime| runtime.settings = Some(settings));
    tracing::info!(account = %caller.account, ?settings, "settings changed");
    Ok(reply::ok(json!(settings)))
}

pub async fn delete_settings(
    State(app): State<Shared>,
    Extension(caller): Extension<AdminCaller>,
) -> ApiResult {
    app.with_runtime(&caller.account, |runtime| runtime.settings = None);
    Ok(reply::ok(json!(app.settings(&caller.account))))
}

fn faults_json(faults: &FaultSpec) -> serde_json::Value {
    let mut value = json!(faults);
    value["spec"] = json!(faults.to_string());
    value
}
