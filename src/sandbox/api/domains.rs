//! Domains: create (201, with the SOA and NS records DigitalOcean adds),
//! get, list and delete. A domain name is unique across all accounts, as on
//! the real service.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::sandbox::api::error::{ApiError, ApiResult};
use crate::sandbox::api::pages;
use crate::sandbox::api::record_checks::DEFAULT_TTL;
use crate::sandbox::api::reply;
use crate::sandbox::api::request::{Caller, JsonBody, Params};
use crate::sandbox::api::{Shared, account_of};
use crate::sandbox::state::World;
use crate::sandbox::state::model::{Domain, Record};
use crate::sandbox::zone;

#[derive(Debug, Deserialize)]
pub struct CreateRequest {
    name: Option<String>,
    ip_address: Option<String>,
}

pub async fn create(
    State(app): State<Shared>,
    caller: Caller,
    JsonBody(request): JsonBody<CreateRequest>,
) -> ApiResult {
    let name = request
        .name
        .map(|name| name.to_ascii_lowercase())
        .ok_or_else(|| ApiError::unprocessable("name is required"))?;
    if !zone::is_valid_domain_name(&name) {
        return Err(ApiError::unprocessable(format!(
            "name `{name}` is not a valid domain name, such as example.com"
        )));
    }
    let apex_address = request
        .ip_address
        .as_deref()
        .filter(|address| !address.is_empty())
        .map(|address| {
            address.parse::<Ipv4Addr>().map_err(|_| {
                ApiError::unprocessable(format!("ip_address `{address}` is not an IPv4 address"))
            })
        })
        .transpose()?;

    let domain = app.store.update(|world| {
        if world.domain_owner(&name).is_some() {
            return Err(ApiError::unprocessable(format!(
                "the domain `{name}` already exists"
            )));
        }
        let domain = new_domain(world, &name, apex_address);
        world
            .account_mut(&caller.account)
            .domains
            .insert(name.clone(), domain.clone());
        Ok(domain)
    })?;

    let body = json!({ "domain": { "name": domain.name, "ttl": domain.ttl, "zone_file": null } });
    Ok(reply::json(StatusCode::CREATED, body))
}

/// Build a zone with its SOA record, the three DigitalOcean NS records, and
/// an apex A record when `apex_address` is given.
fn new_domain(world: &mut World, name: &str, apex_address: Option<Ipv4Addr>) -> Domain {
    let mut records = BTreeMap::new();
    let mut add = |world: &mut World, kind: &str, data: String| {
        let id = world.counters.next_record();
        records.insert(
            id,
            Record {
                id,
                kind: kind.to_string(),
                name: "@".to_string(),
                data,
                priority: None,
                port: None,
                weight: None,
                flags: None,
                tag: None,
                ttl: DEFAULT_TTL,
            },
        );
    };

    add(world, "SOA", DEFAULT_TTL.to_string());
    for server in zone::NAME_SERVERS {
        add(world, "NS", server.to_string());
    }
    if let Some(address) = apex_address {
        add(world, "A", address.to_string());
    }

    let now = jiff::Timestamp::now();
    Domain {
        name: name.to_string(),
        ttl: DEFAULT_TTL,
        serial: u32::try_from(now.as_second()).unwrap_or(1),
        created_at: now,
        records,
    }
}

pub async fn get(
    State(app): State<Shared>,
    caller: Caller,
    Path(domain): Path<String>,
) -> ApiResult {
    let name = domain.to_ascii_lowercase();
    app.store.read(|world| {
        let account = account_of(world, &caller.account);
        let domain = account.domains.get(&name).ok_or_else(ApiError::not_found)?;
        Ok(reply::ok(json!({ "domain": domain_json(domain) })))
    })
}

pub async fn list(State(app): State<Shared>, caller: Caller, params: Params) -> ApiResult {
    let items = app.store.read(|world| {
        account_of(world, &caller.account)
            .domains
            .values()
            .map(domain_json)
            .collect()
    });
    Ok(reply::ok(pages::page("domains", items, &params, &caller)))
}

pub async fn delete(
    State(app): State<Shared>,
    caller: Caller,
    Path(domain): Path<String>,
) -> ApiResult {
    let name = domain.to_ascii_lowercase();
    app.store.update(|world| {
        world
            .account_mut(&caller.account)
            .domains
            .remove(&name)
            .map(|_| ())
            .ok_or_else(ApiError::not_found)
    })?;
    Ok(reply::no_content())
}

fn domain_json(domain: &Domain) -> Value {
    json!({
        "name": domain.name,
        "ttl": domain.ttl,
        "zone_file": zone::zone_file(domain),
    })
}
