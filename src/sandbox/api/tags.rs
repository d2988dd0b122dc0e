//! Tags: create, get, list, delete, and tagging droplets and snapshots.
//!
//! Tag names are case-stable: the spelling a tag was created with is
//! canonical, a new spelling of an existing tag resolves to it, and URLs
//! must use the canonical spelling.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::sandbox::api::error::{ApiError, ApiResult};
use crate::sandbox::api::pages;
use crate::sandbox::api::reply;
use crate::sandbox::api::request::{Caller, JsonBody, Params};
use crate::sandbox::api::{Shared, account_of};
use crate::sandbox::state::model::{Account, Tag};

const MAX_TAG_LENGTH: usize = 255;

#[derive(Debug, Deserialize)]
pub struct CreateRequest {
    name: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct ResourcesRequest {
    resources: Option<Vec<ResourceRef>>,
}

#[derive(Debug, Deserialize)]
struct ResourceRef {
    resource_id: Value,
    resource_type: String,
}

/// Check a tag name against the API's rule: 1 to 255 letters, digits,
/// `_`, `-` and `:`.
pub fn check_tag_name(name: &str) -> Result<(), ApiError> {
    let valid = !name.is_empty()
        && name.len() <= MAX_TAG_LENGTH
        && name
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || b"_-:".contains(&byte));
    if valid {
        Ok(())
    } else {
        Err(ApiError::unprocessable(format!(
            "tag name `{name}` is invalid: use 1 to {MAX_TAG_LENGTH} letters, digits, `_`, `-` and `:`"
        )))
    }
}

/// Return the canonical name of a tag, creating the tag if it does not
/// exist, and record `droplet` as the last one tagged.
pub fn ensure_tag(account: &mut Account, name: &str, droplet: Option<u64>) -> String {
    let canonical = account.canonical_tag(name).unwrap_or(name).to_string();
    let tag = account
        .tags
        .entry(canonical.clone())
        .or_insert_with(|| Tag {
            name: canonical.clone(),
            last_tagged_droplet: None,
        });
    if droplet.is_some() {
        tag.last_tagged_droplet = droplet;
    }
    canonical
}

pub async fn create(
    State(app): State<Shared>,
    caller: Caller,
    JsonBody(request): JsonBody<CreateRequest>,
) -> ApiResult {
    let name = request.name.unwrap_or_default();
    if let Err(error) = check_tag_name(&name) {
        return Ok(bad_tag_request(&error.message));
    }
    let body = app.store.update(|world| {
        let account = world.account_mut(&caller.account);
        let canonical = ensure_tag(account, &name, None);
        Ok::<_, ApiError>(tag_json(account, &canonical, &caller))
    })?;
    Ok(reply::json(StatusCode::CREATED, json!({ "tag": body })))
}

/// Build the 400 the API sends for an invalid tag name, in the shape that
/// call documents (`error`, `messages`, `root_causes`) plus the usual `id`
/// and `message`.
fn bad_tag_request(message: &str) -> axum::response::Response {
    let request_id = crate::sandbox::api::error::REQUEST_ID
        .try_with(Clone::clone)
        .unwrap_or_default();
    reply::json(
        StatusCode::BAD_REQUEST,
        json!({
            "id": "bad_request",
            "message": message,
            "request_id": request_id,
            "error": message,
            "messages": null,
            "root_causes": [message],
        }),
    )
}

pub async fn get(State(app): State<Shared>, caller: Caller, Path(tag): Path<String>) -> ApiResult {
    app.store.read(|world| {
        let account = account_of(world, &caller.account);
        if !account.tags.contains_key(&tag) {
            return Err(ApiError::not_found());
        }
        Ok(reply::ok(
            json!({ "tag": tag_json(account, &tag, &caller) }),
        ))
    })
}

pub async fn list(State(app): State<Shared>, caller: Caller, params: Params) -> ApiResult {
    let items = app.store.read(|world| {
        let account = account_of(world, &caller.account);
        account
            .tags
            .keys()
            .map(|name| tag_json(account, name, &caller))
            .collect()
    });
    Ok(reply::ok(pages::page("tags", items, &params, &caller)))
}

pub async fn delete(
    State(app): State<Shared>,
    caller: Caller,
    Path(tag): Path<String>,
) -> ApiResult {
    app.store.update(|world| {
        let account = world.account_mut(&caller.account);
        if account.tags.shift_remove(&tag).is_none() {
            return Err(ApiError::not_found());
        }
        for droplet in account.droplets.values_mut() {
            droplet.tags.retain(|name| name != &tag);
        }
        for snapshot in account.snapshots.values_mut() {
            snapshot.tags.retain(|name| name != &tag);
        }
        for firewall in account.firewalls.values_mut() {
            firewall.tags.retain(|name| name != &tag);
        }
        Ok(())
    })?;
    Ok(reply::no_content())
}

pub async fn assign(
    State(app): State<Shared>,
    caller: Caller,
    Path(tag): Path<String>,
    JsonBody(request): JsonBody<ResourcesRequest>,
) -> ApiResult {
    change_resources(&app, &caller, &tag, request, true)
}

pub async fn unassign(
    State(app): State<Shared>,
    caller: Caller,
    Path(tag): Path<String>,
    JsonBody(request): JsonBody<ResourcesRequest>,
) -> ApiResult {
    change_resources(&app, &caller, &tag, request, false)
}

fn change_resources(
    app: &Shared,
    caller: &Caller,
    tag: &str,
    request: ResourcesRequest,
    add: bool,
) -> ApiResult {
    let resources = request
        .resources
        .ok_or_else(|| ApiError::unprocessable("resources is required"))?;
    app.store.update(|world| {
        let account = world.account_mut(&caller.account);
        if !account.tags.contains_key(tag) {
            return Err(ApiError::not_found());
        }
        let targets = resources
            .iter()
            .map(|resource| find_resource(account, resource))
            .collect::<Result<Vec<_>, _>>()?;

        for target in targets {
            let tags = match target {
                Target::Droplet(id) => account.droplets.get_mut(&id).map(|d| &mut d.tags),
                Target::Snapshot(id) => account.snapshots.get_mut(&id).map(|s| &mut s.tags),
            };
            let Some(tags) = tags else { continue };
            if add && !tags.iter().any(|name| name == tag) {
                tags.push(tag.to_string());
            } else if !add {
                tags.retain(|name| name != tag);
            }
            if add && let Target::Droplet(id) = target {
                if let Some(entry) = account.tags.get_mut(tag) {
                    entry.last_tagged_droplet = Some(id);
                }
            }
        }
        Ok(())
    })?;
    Ok(reply::no_content())
}

#[derive(Clone, Copy)]
enum Target {
    Droplet(u64),
    Snapshot(u64),
}

fn find_resource(account: &Account, resource: &ResourceRef) -> Result<Target, ApiError> {
    let id = match &resource.resource_id {
        Value::String(text) => text.parse::<u64>().ok(),
        Value::Number(number) => number.as_u64(),
        _ => None,
    };
    let missing = || {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!(
                "{} {} was not found",
                resource.resource_type, resource.resource_id
            ),
        )
    };
    match (resource.resource_type.as_str(), id) {
        ("droplet", Some(id)) if account.droplets.contains_key(&id) => Ok(Target::Droplet(id)),
        ("image", Some(id)) if account.snapshots.contains_key(&id) => Ok(Target::Snapshot(id)),
        ("droplet" | "image" | "volume" | "volume_snapshot", _) => Err(missing()),
        (other, _) => Err(ApiError::unprocessable(format!(
            "resource_type `{other}` is not one of droplet, image, volume, volume_snapshot"
        ))),
    }
}

/// Render a tag with its resource counts.
fn tag_json(account: &Account, name: &str, caller: &Caller) -> Value {
    let droplets = account
        .droplets
        .values()
        .filter(|droplet| droplet.tags.iter().any(|tag| tag == name))
        .count();
    let images = account
        .snapshots
        .values()
        .filter(|snapshot| snapshot.tags.iter().any(|tag| tag == name))
        .count();
    let last_droplet = account
        .tags
        .get(name)
        .and_then(|tag| tag.last_tagged_droplet)
        .filter(|id| account.droplets.contains_key(id))
        .map(|id| format!("{}/v2/droplets/{id}", caller.base_url));

    let mut droplet_stats = json!({ "count": droplets });
    let mut resources = json!({
        "count": droplets + images,
        "images": { "count": images },
        "volumes": { "count": 0 },
        "volume_snapshots": { "count": 0 },
        "databases": { "count": 0 },
    });
    if let Some(uri) = last_droplet {
        droplet_stats["last_tagged_uri"] = json!(uri);
        resources["last_tagged_uri"] = json!(uri);
    }
    resources["droplets"] = droplet_stats;
    json!({ "name": name, "resources": resources })
}
