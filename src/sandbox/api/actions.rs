//! The Actions API: `GET /v2/actions` and `GET /v2/actions/{id}`.

use axum::extract::{Path, State};
use serde_json::{Value, json};

use crate::sandbox::api::error::{ApiError, ApiResult};
use crate::sandbox::api::pages;
use crate::sandbox::api::reply;
use crate::sandbox::api::request::{Caller, Params};
use crate::sandbox::api::{Shared, account_of, parse_id, timestamp};
use crate::sandbox::catalog;
use crate::sandbox::state::model::Action;

pub async fn get(
    State(app): State<Shared>,
    caller: Caller,
    Path(action_id): Path<String>,
) -> ApiResult {
    let id = parse_id(&action_id)?;
    app.store.read(|world| {
        let account = account_of(world, &caller.account);
        let action = account.actions.get(&id).ok_or_else(ApiError::not_found)?;
        Ok(reply::ok(json!({ "action": action_json(action) })))
    })
}

/// List all actions of the account, newest first.
pub async fn list(State(app): State<Shared>, caller: Caller, params: Params) -> ApiResult {
    let items = app.store.read(|world| {
        let account = account_of(world, &caller.account);
        account.actions.values().rev().map(action_json).collect()
    });
    Ok(reply::ok(pages::page("actions", items, &params, &caller)))
}

/// Render an action as the API shows it.
pub fn action_json(action: &Action) -> Value {
    json!({
        "id": action.id,
        "status": action.status.as_str(),
        "type": action.kind,
        "started_at": timestamp(action.started_at),
        "completed_at": action.completed_at.map(timestamp),
        "resource_id": action.droplet_id,
        "resource_type": "droplet",
        "region": catalog::region(&action.region_slug).map(catalog::region_json),
        "region_slug": action.region_slug,
    })
}
