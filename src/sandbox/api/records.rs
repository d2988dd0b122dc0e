//! Domain records: list (filters `name`, a fully-qualified name, and
//! `type`), create (201), get, PUT and PATCH (200, both change only the
//! fields sent), delete (204; SOA records cannot be deleted).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::sandbox::api::error::{ApiError, ApiResult};
use crate::sandbox::api::pages;
use crate::sandbox::api::record_checks::{RecordInput, changed_record, new_record};
use crate::sandbox::api::reply;
use crate::sandbox::api::request::{Caller, JsonBody, Params};
use crate::sandbox::api::{Shared, account_of, parse_id};
use crate::sandbox::state::model::Record;
use crate::sandbox::zone;

pub async fn list(
    State(app): State<Shared>,
    caller: Caller,
    Path(domain): Path<String>,
    params: Params,
) -> ApiResult {
    let zone_name = domain.to_ascii_lowercase();
    let kind = params.get("type");
    let name = params.get("name");

    let items = app.store.read(|world| {
        let account = account_of(world, &caller.account);
        let domain = account
            .domains
            .get(&zone_name)
            .ok_or_else(ApiError::not_found)?;
        let wanted = name.map(|name| zone::relative_name(name, &zone_name));
        Ok::<Vec<Value>, ApiError>(
            domain
                .records
                .values()
                .filter(|record| kind.is_none_or(|kind| record.kind == kind))
                .filter(|record| match &wanted {
                    None => true,
                    Some(Some(relative)) => &record.name == relative,
                    Some(None) => false,
                })
                .map(record_json)
                .collect(),
        )
    })?;
    Ok(reply::ok(pages::page(
        "domain_records",
        items,
        &params,
        &caller,
    )))
}

pub async fn create(
    State(app): State<Shared>,
    caller: Caller,
    Path(domain): Path<String>,
    JsonBody(input): JsonBody<RecordInput>,
) -> ApiResult {
    let zone_name = domain.to_ascii_lowercase();
    let record = app.store.update(|world| {
        if !account_of(world, &caller.account)
            .domains
            .contains_key(&zone_name)
        {
            return Err(ApiError::not_found());
        }
        let id = world.counters.next_record();
        let domain = world
            .account_mut(&caller.account)
            .domains
            .get_mut(&zone_name)
            .ok_or_else(ApiError::not_found)?;
        let record = new_record(id, input, domain)?;
        domain.records.insert(id, record.clone());
        domain.touch();
        Ok(record)
    })?;
    Ok(reply::json(
        StatusCode::CREATED,
        json!({ "domain_record": record_json(&record) }),
    ))
}

pub async fn get(
    State(app): State<Shared>,
    caller: Caller,
    Path((domain, record_id)): Path<(String, String)>,
) -> ApiResult {
    let zone_name = domain.to_ascii_lowercase();
    let id = parse_id(&record_id)?;
    app.store.read(|world| {
        let record = account_of(world, &caller.account)
            .domains
            .get(&zone_name)
            .and_then(|domain| domain.records.get(&id))
            .ok_or_else(ApiError::not_found)?;
        Ok(reply::ok(json!({ "domain_record": record_json(record) })))
    })
}

pub async fn update(
    State(app): State<Shared>,
    caller: Caller,
    Path((domain, record_id)): Path<(String, String)>,
    JsonBody(input): JsonBody<RecordInput>,
) -> ApiResult {
    let zone_name = domain.to_ascii_lowercase();
    let id = parse_id(&record_id)?;
    let record = app.store.update(|world| {
        let domain = world
            .account_mut(&caller.account)
            .domains
            .get_mut(&zone_name)
            .ok_or_else(ApiError::not_found)?;
        let existing = domain.records.get(&id).ok_or_else(ApiError::not_found)?;
        let record = changed_record(existing, input, domain)?;
        domain.records.insert(id, record.clone());
        domain.touch();
        Ok::<_, ApiError>(record)
    })?;
    Ok(reply::ok(json!({ "domain_record": record_json(&record) })))
}

pub async fn delete(
    State(app): State<Shared>,
    caller: Caller,
    Path((domain, record_id)): Path<(String, String)>,
) -> ApiResult {
    let zone_name = domain.to_ascii_lowercase();
    let id = parse_id(&record_id)?;
    app.store.update(|world| {
        let domain = world
            .account_mut(&caller.account)
            .domains
            .get_mut(&zone_name)
            .ok_or_else(ApiError::not_found)?;
        let record = domain.records.get(&id).ok_or_else(ApiError::not_found)?;
        if record.kind == "SOA" {
            return Err(ApiError::unprocessable("SOA records cannot be deleted"));
        }
        domain.records.remove(&id);
        domain.touch();
        Ok(())
    })?;
    Ok(reply::no_content())
}

fn record_json(record: &Record) -> Value {
    json!({
        "id": record.id,
        "type": record.kind,
        "name": record.name,
        "data": record.data,
        "priority": record.priority,
        "port": record.port,
        "ttl": record.ttl,
        "weight": record.weight,
        "flags": record.flags,
        "tag": record.tag,
    })
}
