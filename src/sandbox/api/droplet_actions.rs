//! Droplet actions: `POST /v2/droplets/{id}/actions` (201), by tag, and
//! reading a droplet's actions.
//!
//! An action stays `in-progress` for the account's action duration, and
//! the droplet is `locked` meanwhile: another action gets 422 "Droplet
//! already has a pending event.", as does an action on a droplet whose
//! create has not completed.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::sandbox::api::actions::action_json;
use crate::sandbox::api::error::{ApiError, ApiResult};
use crate::sandbox::api::pages;
use crate::sandbox::api::reply;
use crate::sandbox::api::request::{Caller, JsonBody, Params};
use crate::sandbox::api::{Shared, account_of, parse_id};
use crate::sandbox::lifecycle;
use crate::sandbox::state::World;
use crate::sandbox::state::model::{Action, ActionStatus, PendingSnapshot};

/// The action types the emulator carries out.
const SUPPORTED: &[&str] = &[
    "shutdown",
    "power_off",
    "power_on",
    "reboot",
    "power_cycle",
    "snapshot",
];

/// The action types the API accepts by tag.
const BY_TAG: &[&str] = &[
    "power_cycle",
    "power_on",
    "power_off",
    "shutdown",
    "enable_ipv6",
    "enable_backups",
    "disable_backups",
    "snapshot",
];

#[derive(Debug, Deserialize)]
pub struct ActionRequest {
    #[serde(rename = "type")]
    kind: Option<String>,
    name: Option<String>,
}

pub async fn post(
    State(app): State<Shared>,
    caller: Caller,
    Path(droplet_id): Path<String>,
    JsonBody(request): JsonBody<ActionRequest>,
) -> ApiResult {
    let droplet_id = parse_id(&droplet_id)?;
    let kind = checked_kind(&request)?;
    let due_at = action_due_at(&app, &caller);

    let action = app.store.update(|world| {
        let account = world.account_mut(&caller.account);
        if !account.droplets.contains_key(&droplet_id) {
            return Err(ApiError::not_found());
        }
        if account.pending_action(droplet_id).is_some() {
            return Err(ApiError::pending_event());
        }
        Ok(start_action(
            world,
            &caller,
            droplet_id,
            &kind,
            request.name.as_deref(),
            due_at,
        ))
    })?;

    lifecycle::start_action(app.clone(), caller.account.0.clone(), action.id);
    Ok(reply::json(
        StatusCode::CREATED,
        json!({ "action": action_json(&action) }),
    ))
}

pub async fn post_by_tag(
    State(app): State<Shared>,
    caller: Caller,
    params: Params,
    JsonBody(request): JsonBody<ActionRequest>,
) -> ApiResult {
    let Some(tag) = params.get("tag_name").map(str::to_string) else {
        return Err(ApiError::unprocessable("tag_name is required"));
    };
    let kind = checked_kind(&request)?;
    if !BY_TAG.contains(&kind.as_str()) {
        return Err(ApiError::unprocessable(format!(
            "the action `{kind}` cannot be applied by tag"
        )));
    }
    let due_at = action_due_at(&app, &caller);

    let actions = app.store.update(|world| {
        let account = world.account_mut(&caller.account);
        let ids: Vec<u64> = account
            .droplets
            .values()
            .filter(|droplet| droplet.tags.iter().any(|name| name == &tag))
            .map(|droplet| droplet.id)
            .collect();
        if ids.iter().any(|id| account.pending_action(*id).is_some()) {
            return Err(ApiError::pending_event());
        }
        Ok(ids
            .into_iter()
            .map(|id| start_action(world, &caller, id, &kind, request.name.as_deref(), due_at))
            .collect::<Vec<_>>())
    })?;

    for action in &actions {
        lifecycle::start_action(app.clone(), caller.account.0.clone(), action.id);
    }
    let items: Vec<Value> = actions.iter().map(action_json).collect();
    Ok(reply::json(
        StatusCode::CREATED,
        json!({ "actions": items }),
    ))
}

pub async fn list(
    State(app): State<Shared>,
    caller: Caller,
    Path(droplet_id): Path<String>,
    params: Params,
) -> ApiResult {
    let droplet_id = parse_id(&droplet_id)?;
    let items = app.store.read(|world| {
        let account = account_of(world, &caller.account);
        if !account.droplets.contains_key(&droplet_id) {
            return Err(ApiError::not_found());
        }
        Ok(account
            .actions
            .values()
            .rev()
            .filter(|action| action.droplet_id == droplet_id)
            .map(action_json)
            .collect())
    })?;
    Ok(reply::ok(pages::page("actions", items, &params, &caller)))
}

pub async fn get(
    State(app): State<Shared>,
    caller: Caller,
    Path((droplet_id, action_id)): Path<(String, String)>,
) -> ApiResult {
    let droplet_id = parse_id(&droplet_id)?;
    let action_id = parse_id(&action_id)?;
    app.store.read(|world| {
        let account = account_of(world, &caller.account);
        let action = account
            .actions
            .get(&action_id)
            .filter(|action| action.droplet_id == droplet_id)
            .ok_or_else(ApiError::not_found)?;
        Ok(reply::ok(json!({ "action": action_json(action) })))
    })
}

fn checked_kind(request: &ActionRequest) -> Result<String, ApiError> {
    let kind = request
        .kind
        .as_deref()
        .ok_or_else(|| ApiError::unprocessable("type is required"))?;
    if SUPPORTED.contains(&kind) || BY_TAG.contains(&kind) {
        Ok(kind.to_string())
    } else {
        Err(ApiError::unprocessable(format!(
            "the sandbox does not support the droplet action `{kind}`; it supports {}",
            SUPPORTED.join(", ")
        )))
    }
}

fn action_due_at(app: &Shared, caller: &Caller) -> jiff::Timestamp {
    let settings = app.settings(&caller.account);
    jiff::Timestamp::now()
        .checked_add(app.scaled(settings.action_duration))
        .unwrap_or(jiff::Timestamp::MAX)
}

/// Record an in-progress action and lock its droplet. The caller checked
/// that the droplet exists and has no pending action.
fn start_action(
    world: &mut World,
    caller: &Caller,
    droplet_id: u64,
    kind: &str,
    snapshot_name: Option<&str>,
    due_at: jiff::Timestamp,
) -> Action {
    let action_id = world.counters.next_action();
    let snapshot = (kind == "snapshot").then(|| world.counters.next_image());
    let now = jiff::Timestamp::now();

    let account = world.account_mut(&caller.account);
    let droplet = account
        .droplets
        .get_mut(&droplet_id)
        .expect("the caller checked the droplet exists");
    droplet.locked = true;

    let action = Action {
        id: action_id,
        kind: kind.to_string(),
        status: ActionStatus::InProgress,
        started_at: now,
        completed_at: None,
        due_at,
        droplet_id,
        region_slug: droplet.region_slug.clone(),
        snapshot: snapshot.map(|id| PendingSnapshot {
            id,
            name: snapshot_name
                .filter(|name| !name.is_empty())
                .map(str::to_string)
                .unwrap_or_else(|| format!("{}-{}", droplet.name, now.as_millisecond())),
        }),
    };
    account.actions.insert(action_id, action.clone());
    action
}
