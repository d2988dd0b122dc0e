//! Droplet snapshots. `GET /v2/droplets/{id}/snapshots` shows integer ids;
//! `GET /v2/snapshots` shows the same snapshots with string ids and a
//! string `resource_id`, as the real API does.

use axum::extract::{Path, State};
use serde_json::{Value, json};

use crate::sandbox::api::error::{ApiError, ApiResult};
use crate::sandbox::api::pages;
use crate::sandbox::api::reply;
use crate::sandbox::api::request::{Caller, Params};
use crate::sandbox::api::{Shared, account_of, parse_id, timestamp};
use crate::sandbox::catalog;
use crate::sandbox::state::model::Snapshot;

pub async fn list_for_droplet(
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
            .snapshots
            .values()
            .filter(|snapshot| snapshot.droplet_id == droplet_id)
            .map(droplet_snapshot_json)
            .collect())
    })?;
    Ok(reply::ok(pages::page("snapshots", items, &params, &caller)))
}

pub async fn list(State(app): State<Shared>, caller: Caller, params: Params) -> ApiResult {
    let resource_type = params.get("resource_type");
    if resource_type.is_some_and(|kind| kind != "droplet" && kind != "volume") {
        return Err(ApiError::unprocessable(
            "resource_type must be droplet or volume",
        ));
    }
    let items = app.store.read(|world| {
        let account = account_of(world, &caller.account);
        account
            .snapshots
            .values()
            .filter(|_| resource_type != Some("volume"))
            .map(snapshot_json)
            .collect()
    });
    Ok(reply::ok(pages::page("snapshots", items, &params, &caller)))
}

pub async fn get(
    State(app): State<Shared>,
    caller: Caller,
    Path(snapshot_id): Path<String>,
) -> ApiResult {
    let id = parse_id(&snapshot_id)?;
    app.store.read(|world| {
        let account = account_of(world, &caller.account);
        let snapshot = account.snapshots.get(&id).ok_or_else(ApiError::not_found)?;
        Ok(reply::ok(json!({ "snapshot": snapshot_json(snapshot) })))
    })
}

pub async fn delete(
    State(app): State<Shared>,
    caller: Caller,
    Path(snapshot_id): Path<String>,
) -> ApiResult {
    let id = parse_id(&snapshot_id)?;
    if catalog::image_by_id(id).is_some() {
        return Err(ApiError::bad_request("the resource is not a snapshot"));
    }
    app.store.update(|world| {
        let account = world.account_mut(&caller.account);
        let snapshot = account
            .snapshots
            .remove(&id)
            .ok_or_else(ApiError::not_found)?;
        if let Some(droplet) = account.droplets.get_mut(&snapshot.droplet_id) {
            droplet.snapshot_ids.retain(|kept| *kept != id);
        }
        Ok::<_, ApiError>(())
    })?;
    Ok(reply::no_content())
}

fn droplet_snapshot_json(snapshot: &Snapshot) -> Value {
    json!({
        "id": snapshot.id,
        "name": snapshot.name,
        "created_at": timestamp(snapshot.created_at),
        "regions": [snapshot.region_slug],
        "min_disk_size": snapshot.min_disk_size,
        "size_gigabytes": snapshot.size_gigabytes,
        "type": "snapshot",
    })
}

fn snapshot_json(snapshot: &Snapshot) -> Value {
    json!({
        "id": snapshot.id.to_string(),
        "name": snapshot.name,
        "created_at": timestamp(snapshot.created_at),
        "regions": [snapshot.region_slug],
        "resource_id": snapshot.droplet_id.to_string(),
        "resource_type": "droplet",
        "min_disk_size": snapshot.min_disk_size,
        "size_gigabytes": snapshot.size_gigabytes,
        "tags": snapshot.tags,
    })
}
