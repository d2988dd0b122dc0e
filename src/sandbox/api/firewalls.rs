//! Cloud firewalls: create (202), get, list, full replace with PUT, delete,
//! and adding or removing droplets, tags and rules (204).
//!
//! A changed firewall is `waiting` with pending changes for its droplets
//! until the account's action duration has passed, then `succeeded`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::sandbox::api::error::{ApiError, ApiResult};
use crate::sandbox::api::pages;
use crate::sandbox::api::reply;
use crate::sandbox::api::request::{Caller, JsonBody, Params};
use crate::sandbox::api::{Shared, account_of, timestamp};
use crate::sandbox::state::model::{Account, Firewall, InboundRule, OutboundRule, RuleTargets};
use crate::sandbox::state::random_uuid;

#[derive(Debug, Default, Deserialize)]
pub struct FirewallRequest {
    name: Option<String>,
    inbound_rules: Option<Vec<InboundRule>>,
    outbound_rules: Option<Vec<OutboundRule>>,
    droplet_ids: Option<Vec<u64>>,
    tags: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
pub struct DropletsRequest {
    droplet_ids: Option<Vec<u64>>,
}

#[derive(Debug, Deserialize)]
pub struct TagsRequest {
    tags: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
pub struct RulesRequest {
    inbound_rules: Option<Vec<InboundRule>>,
    outbound_rules: Option<Vec<OutboundRule>>,
}

pub async fn create(
    State(app): State<Shared>,
    caller: Caller,
    JsonBody(request): JsonBody<FirewallRequest>,
) -> ApiResult {
    let applied_at = applied_at(&app, &caller);
    let firewall = app.store.update(|world| {
        let account = world.account_mut(&caller.account);
        let now = jiff::Timestamp::now();
        let mut firewall = Firewall {
            id: random_uuid(),
            name: String::new(),
            created_at: now,
            applied_at,
            droplet_ids: Vec::new(),
            tags: Vec::new(),
            inbound_rules: Vec::new(),
            outbound_rules: Vec::new(),
        };
        replace(account, &mut firewall, request)?;
        account
            .firewalls
            .insert(firewall.id.clone(), firewall.clone());
        Ok::<_, ApiError>(firewall)
    })?;
    Ok(reply::json(
        StatusCode::ACCEPTED,
        json!({ "firewall": firewall_json(&firewall) }),
    ))
}

pub async fn get(
    State(app): State<Shared>,
    caller: Caller,
    Path(firewall_id): Path<String>,
) -> ApiResult {
    app.store.read(|world| {
        let account = account_of(world, &caller.account);
        let firewall = account
            .firewalls
            .get(&firewall_id)
            .ok_or_else(ApiError::not_found)?;
        Ok(reply::ok(json!({ "firewall": firewall_json(firewall) })))
    })
}

pub async fn list(State(app): State<Shared>, caller: Caller, params: Params) -> ApiResult {
    let items = app.store.read(|world| {
        account_of(world, &caller.account)
            .firewalls
            .values()
            .map(firewall_json)
            .collect()
    });
    Ok(reply::ok(pages::page("firewalls", items, &params, &caller)))
}

/// PUT replaces the whole firewall: attributes left out are reset.
pub async fn update(
    State(app): State<Shared>,
    caller: Caller,
    Path(firewall_id): Path<String>,
    JsonBody(request): JsonBody<FirewallRequest>,
) -> ApiResult {
    let applied_at = applied_at(&app, &caller);
    let firewall = app.store.update(|world| {
        let account = world.account_mut(&caller.account);
        let mut firewall = account
            .firewalls
            .get(&firewall_id)
            .cloned()
            .ok_or_else(ApiError::not_found)?;
        replace(account, &mut firewall, request)?;
        firewall.applied_at = applied_at;
        account
            .firewalls
            .insert(firewall.id.clone(), firewall.clone());
        Ok::<_, ApiError>(firewall)
    })?;
    Ok(reply::ok(json!({ "firewall": firewall_json(&firewall) })))
}

pub async fn delete(
    State(app): State<Shared>,
    caller: Caller,
    Path(firewall_id): Path<String>,
) -> ApiResult {
    app.store.update(|world| {
        let account = world.account_mut(&caller.account);
        account
            .firewalls
            .shift_remove(&firewall_id)
            .map(|_| ())
            .ok_or_else(ApiError::not_found)
    })?;
    Ok(reply::no_content())
}

pub async fn add_droplets(
    State(app): State<Shared>,
    caller: Caller,
    Path(firewall_id): Path<String>,
    JsonBody(request): JsonBody<DropletsRequest>,
) -> ApiResult {
    let ids = request
        .droplet_ids
        .ok_or_else(|| ApiError::bad_request("droplet_ids is required"))?;
    edit(&app, &caller, &firewall_id, |account, firewall| {
        check_droplets(account, &ids)?;
        for id in ids {
            if !firewall.droplet_ids.contains(&id) {
                firewall.droplet_ids.push(id);
            }
        }
        Ok(())
    })
}

pub async fn remove_droplets(
    State(app): State<Shared>,
    caller: Caller,
    Path(firewall_id): Path<String>,
    JsonBody(request): JsonBody<DropletsRequest>,
) -> ApiResult {
    let ids = request
        .droplet_ids
        .ok_or_else(|| ApiError::bad_request("droplet_ids is required"))?;
    edit(&app, &caller, &firewall_id, |_, firewall| {
        firewall.droplet_ids.retain(|id| !ids.contains(id));
        Ok(())
    })
}

pub async fn add_tags(
    State(app): State<Shared>,
    caller: Caller,
    Path(firewall_id): Path<String>,
    JsonBody(request): JsonBody<TagsRequest>,
) -> ApiResult {
    let tags = request
        .tags
        .ok_or_else(|| ApiError::bad_request("tags is required"))?;
    edit(&app, &caller, &firewall_id, |account, firewall| {
        for tag in canonical_tags(account, &tags)? {
            if !firewall.tags.contains(&tag) {
                firewall.tags.push(tag);
            }
        }
        Ok(())
    })
}

pub async fn remove_tags(
    State(app): State<Shared>,
    caller: Caller,
    Path(firewall_id): Path<String>,
    JsonBody(request): JsonBody<TagsRequest>,
) -> ApiResult {
    let tags = request
        .tags
        .ok_or_else(|| ApiError::bad_request("tags is required"))?;
    edit(&app, &caller, &firewall_id, |_, firewall| {
        firewall
            .tags
            .retain(|kept| !tags.iter().any(|tag| tag.eq_ignore_ascii_case(kept)));
        Ok(())
    })
}

pub async fn add_rules(
    State(app): State<Shared>,
    caller: Caller,
    Path(firewall_id): Path<String>,
    JsonBody(request): JsonBody<RulesRequest>,
) -> ApiResult {
    let (inbound, outbound) = rules_of(request)?;
    edit(&app, &caller, &firewall_id, |_, firewall| {
        check_rules(&inbound, &outbound)?;
        for rule in inbound {
            if !firewall.inbound_rules.contains(&rule) {
                firewall.inbound_rules.push(rule);
            }
        }
        for rule in outbound {
            if !firewall.outbound_rules.contains(&rule) {
                firewall.outbound_rules.push(rule);
            }
        }
        Ok(())
    })
}

pub async fn remove_rules(
    State(app): State<Shared>,
    caller: Caller,
    Path(firewall_id): Path<String>,
    JsonBody(request): JsonBody<RulesRequest>,
) -> ApiResult {
    let (inbound, outbound) = rules_of(request)?;
    edit(&app, &caller, &firewall_id, |_, firewall| {
        firewall
            .inbound_rules
            .retain(|rule| !inbound.contains(rule));
        firewall
            .outbound_rules
            .retain(|rule| !outbound.contains(rule));
        Ok(())
    })
}

fn rules_of(request: RulesRequest) -> Result<(Vec<InboundRule>, Vec<OutboundRule>), ApiError> {
    if request.inbound_rules.is_none() && request.outbound_rules.is_none() {
        return Err(ApiError::bad_request(
            "inbound_rules or outbound_rules is required",
        ));
    }
    Ok((
        request.inbound_rules.unwrap_or_default(),
        request.outbound_rules.unwrap_or_default(),
    ))
}

/// Apply a partial edit to a firewall and mark it waiting, then respond 204.
fn edit(
    app: &Shared,
    caller: &Caller,
    firewall_id: &str,
    change: impl FnOnce(&Account, &mut Firewall) -> Result<(), ApiError>,
) -> ApiResult {
    let applied_at = applied_at(app, caller);
    app.store.update(|world| {
        let account = world.account_mut(&caller.account);
        let mut firewall = account
            .firewalls
            .get(firewall_id)
            .cloned()
            .ok_or_else(ApiError::not_found)?;
        change(account, &mut firewall)?;
        firewall.applied_at = applied_at;
        account.firewalls.insert(firewall.id.clone(), firewall);
        Ok::<_, ApiError>(())
    })?;
    Ok(reply::no_content())
}

/// Set every attribute of a firewall from a create or PUT request.
fn replace(
    account: &Account,
    firewall: &mut Firewall,
    request: FirewallRequest,
) -> Result<(), ApiError> {
    let name = request
        .name
        .ok_or_else(|| ApiError::bad_request("name is required"))?;
    if !is_valid_firewall_name(&name) {
        return Err(ApiError::bad_request(format!(
            "firewall name `{name}` is invalid: start with a letter or digit, then use letters, digits, `.` and `-`"
        )));
    }
    if request.inbound_rules.is_none() && request.outbound_rules.is_none() {
        return Err(ApiError::bad_request(
            "a firewall needs inbound_rules or outbound_rules",
        ));
    }
    let inbound = request.inbound_rules.unwrap_or_default();
    let outbound = request.outbound_rules.unwrap_or_default();
    check_rules(&inbound, &outbound)?;
    let droplet_ids = request.droplet_ids.unwrap_or_default();
    check_droplets(account, &droplet_ids)?;
    let tags = canonical_tags(account, &request.tags.unwrap_or_default())?;

    firewall.name = name;
    firewall.inbound_rules = inbound;
    firewall.outbound_rules = outbound;
    firewall.droplet_ids = droplet_ids;
    firewall.tags = tags;
    Ok(())
}

fn is_valid_firewall_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    bytes.len() >= 2
        && bytes[0].is_ascii_alphanumeric()
        && bytes[1..]
            .iter()
            .all(|byte| byte.is_ascii_alphanumeric() || *byte == b'.' || *byte == b'-')
}

fn check_rules(inbound: &[InboundRule], outbound: &[OutboundRule]) -> Result<(), ApiError> {
    let rules = inbound
        .iter()
        .map(|rule| (&rule.protocol, &rule.ports, &rule.sources))
        .chain(
            outbound
                .iter()
                .map(|rule| (&rule.protocol, &rule.ports, &rule.destinations)),
        );
    for (protocol, ports, targets) in rules {
        check_rule(protocol, ports, targets)?;
    }
    Ok(())
}

fn check_rule(protocol: &str, ports: &str, targets: &RuleTargets) -> Result<(), ApiError> {
    match protocol {
        "tcp" | "udp" => {}
        "icmp" if ports == "0" => {}
        "icmp" => return Err(ApiError::bad_request("ICMP rules must use ports \"0\"")),
        other => {
            return Err(ApiError::bad_request(format!(
                "protocol `{other}` is invalid: use tcp, udp or icmp"
            )));
        }
    }
    if !is_valid_ports(ports) {
        return Err(ApiError::bad_request(format!(
            "ports `{ports}` is invalid: use a port, a range such as 8000-9000, or 0 for all"
        )));
    }
    for address in &targets.addresses {
        if !is_valid_address(address) {
            return Err(ApiError::bad_request(format!(
                "address `{address}` is not an IPv4 or IPv6 address or CIDR"
            )));
        }
    }
    Ok(())
}

fn is_valid_ports(ports: &str) -> bool {
    let port = |text: &str| text.parse::<u16>().is_ok_and(|port| port >= 1);
    match ports.split_once('-') {
        _ if ports == "0" || ports == "all" => true,
        Some((low, high)) => {
            port(low) && port(high) && low.parse::<u16>().ok() <= high.parse::<u16>().ok()
        }
        None => port(ports),
    }
}

fn is_valid_address(address: &str) -> bool {
    let (ip, prefix) = match address.split_once('/') {
        Some((ip, prefix)) => (ip, Some(prefix)),
        None => (address, None),
    };
    let Ok(ip) = ip.parse::<std::net::IpAddr>() else {
        return false;
    };
    let max = if ip.is_ipv4() { 32 } else { 128 };
    prefix.is_none_or(|prefix| prefix.parse::<u8>().is_ok_and(|bits| bits <= max))
}

fn check_droplets(account: &Account, ids: &[u64]) -> Result<(), ApiError> {
    match ids.iter().find(|id| !account.droplets.contains_key(id)) {
        Some(missing) => Err(ApiError::bad_request(format!(
            "droplet {missing} does not exist on this account"
        ))),
        None => Ok(()),
    }
}

/// Return the canonical spelling of existing tags, because a firewall
/// cannot name a tag that does not exist.
fn canonical_tags(account: &Account, tags: &[String]) -> Result<Vec<String>, ApiError> {
    let mut canonical: Vec<String> = Vec::new();
    for tag in tags {
        let name = account.canonical_tag(tag).ok_or_else(|| {
            ApiError::bad_request(format!(
                "tag `{tag}` does not exist; create it with POST /v2/tags first"
            ))
        })?;
        if !canonical.iter().any(|kept| kept == name) {
            canonical.push(name.to_string());
        }
    }
    Ok(canonical)
}

fn applied_at(app: &Shared, caller: &Caller) -> jiff::Timestamp {
    let settings = app.settings(&caller.account);
    jiff::Timestamp::now()
        .checked_add(app.scaled(settings.action_duration))
        .unwrap_or(jiff::Timestamp::MAX)
}

/// Render a firewall as the API shows it, `waiting` until its change is
/// applied.
fn firewall_json(firewall: &Firewall) -> Value {
    let waiting = jiff::Timestamp::now() < firewall.applied_at;
    let pending: Vec<Value> = if waiting {
        firewall
            .droplet_ids
            .iter()
            .map(|id| json!({ "droplet_id": id, "removing": false, "status": "waiting" }))
            .collect()
    } else {
        Vec::new()
    };
    json!({
        "id": firewall.id,
        "name": firewall.name,
        "status": if waiting { "waiting" } else { "succeeded" },
        "created_at": timestamp(firewall.created_at),
        "pending_changes": pending,
        "droplet_ids": firewall.droplet_ids,
        "tags": firewall.tags,
        "inbound_rules": firewall.inbound_rules,
        "outbound_rules": firewall.outbound_rules,
    })
}
