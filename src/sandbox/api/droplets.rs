//! Droplets: create (202 with status `new` and the create action), get,
//! list with `tag_name` and `name` filters, delete and delete by tag.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::sandbox::api::error::{ApiError, ApiResult};
use crate::sandbox::api::pages;
use crate::sandbox::api::reply;
use crate::sandbox::api::request::{Caller, JsonBody, Params};
use crate::sandbox::api::tags::{check_tag_name, ensure_tag};
use crate::sandbox::api::{Shared, account_of, parse_id, timestamp};
use crate::sandbox::catalog;
use crate::sandbox::lifecycle;
use crate::sandbox::state::addresses::{self, NETMASK, PUBLIC_GATEWAY};
use crate::sandbox::state::model::{
    Account, Action, ActionStatus, Droplet, DropletStatus, ImageInfo,
};
use crate::sandbox::state::{World, random_uuid};

/// The maximum number of droplets one request may create.
const MAX_NAMES: usize = 10;
/// The largest `user_data` DigitalOcean accepts.
const MAX_USER_DATA: usize = 64 * 1024;

pub const INVALID_NAME: &str =
    "Only valid hostname characters are allowed. (a-z, A-Z, 0-9, . and -)";

#[derive(Debug, Deserialize)]
pub struct CreateRequest {
    name: Option<String>,
    names: Option<Vec<String>>,
    size: Option<String>,
    image: Option<Value>,
    region: Option<String>,
    ssh_keys: Option<Vec<Value>>,
    tags: Option<Vec<String>>,
    user_data: Option<String>,
    vpc_uuid: Option<String>,
    monitoring: Option<bool>,
    ipv6: Option<bool>,
    backups: Option<bool>,
}

/// A create request that passed validation.
struct Plan {
    names: Vec<String>,
    size: &'static catalog::Size,
    image: ImageInfo,
    region: &'static catalog::Region,
    authorized_keys: Vec<String>,
    tags: Vec<String>,
    features: Vec<String>,
    user_data: Option<String>,
    vpc_uuid: Option<String>,
}

pub async fn create(
    State(app): State<Shared>,
    caller: Caller,
    JsonBody(request): JsonBody<CreateRequest>,
) -> ApiResult {
    let single = request.names.is_none();
    let settings = app.settings(&caller.account);
    let boot_due = jiff::Timestamp::now()
        .checked_add(app.scaled(settings.boot_time))
        .unwrap_or(jiff::Timestamp::MAX);

    let wanted_address = app.take_next_address(&caller.account);
    let created = app.store.update(|world| {
        let plan = plan_create(world, &caller, &request, settings.droplet_limit)?;
        insert_droplets(
            world,
            &caller,
            plan,
            boot_due,
            wanted_address,
            settings.hostless_droplets,
        )
    })?;

    for (droplet_id, _) in &created {
        lifecycle::start_boot(app.clone(), caller.account.0.clone(), *droplet_id);
    }

    let (droplets, links) = app.store.read(|world| {
        let account = account_of(world, &caller.account);
        let droplets: Vec<Value> = created
            .iter()
            .filter_map(|(id, _)| account.droplets.get(id))
            .map(droplet_json)
            .collect();
        let links: Vec<Value> = created
            .iter()
            .map(|(_, action_id)| {
                json!({
                    "id": action_id,
                    "rel": "create",
                    "href": format!("{}/v2/actions/{action_id}", caller.base_url),
                })
            })
            .collect();
        (droplets, links)
    });

    let body = if single {
        json!({ "droplet": droplets.into_iter().next(), "links": { "actions": links } })
    } else {
        json!({ "droplets": droplets, "links": { "actions": links } })
    };
    Ok(reply::json(StatusCode::ACCEPTED, body))
}

fn plan_create(
    world: &World,
    caller: &Caller,
    request: &CreateRequest,
    droplet_limit: u32,
) -> Result<Plan, ApiError> {
    let account = account_of(world, &caller.account);
    let names = requested_names(request)?;

    let size = request
        .size
        .as_deref()
        .and_then(catalog::size_by_slug)
        .ok_or_else(|| {
            ApiError::unprocessable("You specified an invalid size for Droplet creation.")
        })?;
    let image = request
        .image
        .as_ref()
        .and_then(|image| resolve_image(account, image))
        .ok_or_else(|| {
            ApiError::unprocessable("You specified an invalid image for Droplet creation.")
        })?;
    let region = match request.region.as_deref() {
        None | Some("") => catalog::region(catalog::DEFAULT_REGION),
        Some(requested) => catalog::resolve_region(requested),
    }
    .ok_or_else(|| {
        ApiError::unprocessable("You specified an invalid region for Droplet creation.")
    })?;

    if request
        .user_data
        .as_ref()
        .is_some_and(|data| data.len() > MAX_USER_DATA)
    {
        return Err(ApiError::unprocessable(
            "user_data is too long: it may not exceed 64 KiB.",
        ));
    }
    let authorized_keys = resolve_keys(account, request.ssh_keys.as_deref().unwrap_or_default())?;
    let tags = request.tags.clone().unwrap_or_default();
    for tag in &tags {
        check_tag_name(tag)?;
    }
    let limit = usize::try_from(droplet_limit).unwrap_or(usize::MAX);
    if account.droplets.len() + names.len() > limit {
        return Err(ApiError::unprocessable(format!(
            "creating this/these droplet(s) will exceed your droplet limit of {droplet_limit}"
        )));
    }

    let mut features = vec!["private_networking".to_string()];
    for (enabled, feature) in [
        (request.monitoring, "monitoring"),
        (request.ipv6, "ipv6"),
        (request.backups, "backups"),
    ] {
        if enabled == Some(true) {
            features.push(feature.to_string());
        }
    }

    Ok(Plan {
        names,
        size,
        image,
        region,
        authorized_keys,
        tags,
        features,
        user_data: request.user_data.clone(),
        vpc_uuid: request.vpc_uuid.clone().filter(|uuid| !uuid.is_empty()),
    })
}

fn requested_names(request: &CreateRequest) -> Result<Vec<String>, ApiError> {
    let names = match (&request.name, &request.names) {
        (Some(name), None) => vec![name.clone()],
        (None, Some(names)) if names.is_empty() => {
            return Err(ApiError::unprocessable("names must hold at least one name"));
        }
        (None, Some(names)) if names.len() > MAX_NAMES => {
            return Err(ApiError::unprocessable(format!(
                "names may hold at most {MAX_NAMES} names"
            )));
        }
        (None, Some(names)) => names.clone(),
        (Some(_), Some(_)) => {
            return Err(ApiError::unprocessable(
                "send either name or names, not both",
            ));
        }
        (None, None) => return Err(ApiError::unprocessable("name is required")),
    };
    if names.iter().any(|name| !is_valid_name(name)) {
        return Err(ApiError::unprocessable(INVALID_NAME));
    }
    Ok(names)
}

/// Check a name against the API's droplet name rule,
/// `^[a-zA-Z0-9]?[a-z0-9A-Z.\-]*[a-z0-9A-Z]$` with at most 255 characters:
/// letters, digits, `.` and `-`, ending with a letter or digit.
pub fn is_valid_name(name: &str) -> bool {
    let allowed = |byte: &u8| byte.is_ascii_alphanumeric() || *byte == b'.' || *byte == b'-';
    name.len() <= 255
        && name
            .as_bytes()
            .last()
            .is_some_and(u8::is_ascii_alphanumeric)
        && name.as_bytes().iter().all(allowed)
}

/// Resolve the image of a create request: a public image slug or id, or the
/// id of one of the account's snapshots.
fn resolve_image(account: &Account, image: &Value) -> Option<ImageInfo> {
    let public = match image {
        Value::String(slug) => catalog::image_by_slug(slug)
            .or_else(|| slug.parse().ok().and_then(catalog::image_by_id)),
        Value::Number(number) => number.as_u64().and_then(catalog::image_by_id),
        _ => None,
    };
    if let Some(public) = public {
        return Some(ImageInfo {
            id: public.id,
            name: public.name.to_string(),
            slug: Some(public.slug.to_string()),
            distribution: public.distribution.to_string(),
            public: true,
            kind: "base".to_string(),
            min_disk_size: public.min_disk_size,
            size_gigabytes: public.size_gigabytes,
            created_at: public.created_at.to_string(),
        });
    }

    let id = match image {
        Value::String(text) => text.parse().ok()?,
        Value::Number(number) => number.as_u64()?,
        _ => return None,
    };
    let snapshot = account.snapshots.get(&id)?;
    let source = account.droplets.get(&snapshot.droplet_id);
    Some(ImageInfo {
        id,
        name: snapshot.name.clone(),
        slug: None,
        distribution: source
            .map(|droplet| droplet.image.distribution.clone())
            .unwrap_or_else(|| "Unknown".to_string()),
        public: false,
        kind: "snapshot".to_string(),
        min_disk_size: snapshot.min_disk_size,
        size_gigabytes: snapshot.size_gigabytes,
        created_at: timestamp(snapshot.created_at),
    })
}

/// Look up the public keys of the SSH keys a create names by id or
/// fingerprint.
fn resolve_keys(account: &Account, requested: &[Value]) -> Result<Vec<String>, ApiError> {
    requested
        .iter()
        .map(|wanted| {
            let found = account.ssh_keys.values().find(|key| match wanted {
                Value::Number(number) => number.as_u64() == Some(key.id),
                Value::String(text) => {
                    text == &key.fingerprint || text.parse() == Ok(key.id)
                }
                _ => false,
            });
            found.map(|key| key.public_key.clone()).ok_or_else(|| {
                ApiError::unprocessable(format!(
                    "ssh_keys: no SSH key {wanted} exists on this account; create it with POST /v2/account/keys first"
                ))
            })
        })
        .collect()
}

/// Store the planned droplets with their create actions; returns the
/// droplet and action ids.
fn insert_droplets(
    world: &mut World,
    caller: &Caller,
    plan: Plan,
    boot_due: jiff::Timestamp,
    mut wanted_address: Option<std::net::Ipv4Addr>,
    hostless: bool,
) -> Result<Vec<(u64, u64)>, ApiError> {
    let now = jiff::Timestamp::now();
    let mut created = Vec::new();
    for name in &plan.names {
        let (public_ipv4, private_ipv4) = addresses::allocate(world, wanted_address.take())
            .map_err(|error| ApiError::unprocessable(error.to_string()))?;
        let droplet_id = world.counters.next_droplet();
        let action_id = world.counters.next_action();

        let account = world.account_mut(&caller.account);
        let mut tags: Vec<String> = Vec::new();
        for tag in &plan.tags {
            let canonical = ensure_tag(account, tag, Some(droplet_id));
            if !tags.contains(&canonical) {
                tags.push(canonical);
            }
        }
        account.droplets.insert(
            droplet_id,
            Droplet {
                id: droplet_id,
                name: name.clone(),
                status: DropletStatus::New,
                locked: false,
                created_at: now,
                size_slug: plan.size.slug.to_string(),
                region_slug: plan.region.slug.to_string(),
                image: plan.image.clone(),
                tags,
                vpc_uuid: plan.vpc_uuid.clone().unwrap_or_else(random_uuid),
                features: plan.features.clone(),
                public_ipv4,
                private_ipv4,
                networks_visible: false,
                networks_due_at: None,
                snapshot_ids: Vec::new(),
                create_action_id: action_id,
                authorized_keys: plan.authorized_keys.clone(),
                user_data: plan.user_data.clone(),
                hostless,
            },
        );
        account.actions.insert(
            action_id,
            Action {
                id: action_id,
                kind: "create".to_string(),
                status: ActionStatus::InProgress,
                started_at: now,
                completed_at: None,
                due_at: boot_due,
                droplet_id,
                region_slug: plan.region.slug.to_string(),
                snapshot: None,
            },
        );
        created.push((droplet_id, action_id));
    }
    Ok(created)
}

pub async fn get(
    State(app): State<Shared>,
    caller: Caller,
    Path(droplet_id): Path<String>,
) -> ApiResult {
    let id = parse_id(&droplet_id)?;
    app.store.read(|world| {
        let account = account_of(world, &caller.account);
        let droplet = account.droplets.get(&id).ok_or_else(ApiError::not_found)?;
        Ok(reply::ok(json!({ "droplet": droplet_json(droplet) })))
    })
}

pub async fn list(State(app): State<Shared>, caller: Caller, params: Params) -> ApiResult {
    let tag = params.get("tag_name");
    let name = params.get("name");
    let kind = params.get("type");
    if tag.is_some() && (name.is_some() || kind.is_some()) {
        return Err(ApiError::unprocessable(
            "tag_name can not be combined with name or type",
        ));
    }
    if kind.is_some_and(|kind| kind != "droplets" && kind != "gpus") {
        return Err(ApiError::unprocessable("type must be droplets or gpus"));
    }

    let items = app.store.read(|world| {
        let account = account_of(world, &caller.account);
        account
            .droplets
            .values()
            .filter(|_| kind != Some("gpus"))
            .filter(|droplet| tag.is_none_or(|tag| droplet.tags.iter().any(|t| t == tag)))
            .filter(|droplet| name.is_none_or(|name| droplet.name.eq_ignore_ascii_case(name)))
            .map(droplet_json)
            .collect()
    });
    Ok(reply::ok(pages::page("droplets", items, &params, &caller)))
}

pub async fn delete(
    State(app): State<Shared>,
    caller: Caller,
    Path(droplet_id): Path<String>,
) -> ApiResult {
    let id = parse_id(&droplet_id)?;
    let removed = app.store.update(|world| {
        let account = world.account_mut(&caller.account);
        remove_droplet(account, id).ok_or_else(ApiError::not_found)
    })?;
    lifecycle::start_destroy(app.clone(), &removed);
    Ok(reply::no_content_typed())
}

pub async fn delete_by_tag(State(app): State<Shared>, caller: Caller, params: Params) -> ApiResult {
    let Some(tag) = params.get("tag_name") else {
        return Err(ApiError::unprocessable(
            "tag_name is required to delete droplets by tag",
        ));
    };
    let removed = app.store.update(|world| {
        let account = world.account_mut(&caller.account);
        let ids: Vec<u64> = account
            .droplets
            .values()
            .filter(|droplet| droplet.tags.iter().any(|t| t == tag))
            .map(|droplet| droplet.id)
            .collect();
        let removed: Vec<Droplet> = ids
            .into_iter()
            .filter_map(|id| remove_droplet(account, id))
            .collect();
        Ok::<_, ApiError>(removed)
    })?;
    for droplet in &removed {
        lifecycle::start_destroy(app.clone(), droplet);
    }
    Ok(reply::no_content_typed())
}

/// Remove a droplet, end its unfinished actions and drop it from firewalls.
/// Returns the removed droplet, or `None` when the account has no such
/// droplet.
fn remove_droplet(account: &mut Account, id: u64) -> Option<Droplet> {
    let removed = account.droplets.remove(&id)?;
    let now = jiff::Timestamp::now();
    for action in account.actions.values_mut() {
        if action.droplet_id == id && action.status == ActionStatus::InProgress {
            action.status = ActionStatus::Errored;
            action.completed_at = Some(now);
        }
    }
    for firewall in account.firewalls.values_mut() {
        firewall.droplet_ids.retain(|droplet| *droplet != id);
    }
    Some(removed)
}

/// Render a droplet as the API shows it.
pub fn droplet_json(droplet: &Droplet) -> Value {
    let size = catalog::size_by_slug(&droplet.size_slug);
    let region = catalog::region(&droplet.region_slug);
    let v4 = if droplet.networks_visible {
        json!([
            {
                "ip_address": droplet.private_ipv4.to_string(),
                "netmask": NETMASK.to_string(),
                "gateway": "nil",
                "type": "private",
            },
            {
                "ip_address": droplet.public_ipv4.to_string(),
                "netmask": NETMASK.to_string(),
                "gateway": PUBLIC_GATEWAY.to_string(),
                "type": "public",
            },
        ])
    } else {
        json!([])
    };

    json!({
        "id": droplet.id,
        "name": droplet.name,
        "memory": size.map_or(1024, |size| size.memory_mib),
        "vcpus": size.map_or(1, |size| size.vcpus),
        "disk": size.map_or(25, |size| size.disk_gib),
        "disk_info": [{
            "type": "local",
            "size": { "amount": size.map_or(25, |size| size.disk_gib), "unit": "gib" },
        }],
        "locked": droplet.locked,
        "status": droplet.status.as_str(),
        "kernel": null,
        "created_at": timestamp(droplet.created_at),
        "features": droplet.features,
        "backup_ids": [],
        "next_backup_window": null,
        "snapshot_ids": droplet.snapshot_ids,
        "image": image_json(&droplet.image),
        "volume_ids": [],
        "size": size.map(catalog::size_json),
        "size_slug": droplet.size_slug,
        "networks": { "v4": v4, "v6": [] },
        "region": region.map(catalog::region_json),
        "tags": droplet.tags,
        "vpc_uuid": droplet.vpc_uuid,
    })
}

fn image_json(image: &ImageInfo) -> Value {
    let regions: Vec<&str> = catalog::REGIONS.iter().map(|region| region.slug).collect();
    json!({
        "id": image.id,
        "name": image.name,
        "distribution": image.distribution,
        "slug": image.slug,
        "public": image.public,
        "regions": regions,
        "created_at": image.created_at,
        "type": image.kind,
        "min_disk_size": image.min_disk_size,
        "size_gigabytes": image.size_gigabytes,
        "description": "",
        "tags": [],
        "status": "available",
        "error_message": "",
    })
}

#[cfg(test)]
mod tests {
    use super::is_valid_name;

    #[test]
    fn droplet_names_follow_hostname_rules() {
        for name in ["web-1", "prod-2023", "a", "db.example.com", "A1"] {
            assert!(is_valid_name(name), "{name} must be valid");
        }
        for name in [
            "",
            "web-",
            "web.",
            "web_1",
            "web 1",
            "wéb",
            &"a".repeat(256),
        ] {
            assert!(!is_valid_name(name), "{name} must be invalid");
        }
    }
}
