//! SSH keys of the account: `/v2/account/keys` CRUD, by id or fingerprint.
//! Listing has its own limit of 10 requests a minute (in the middleware).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use md5::{Digest, Md5};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::sandbox::api::error::{ApiError, ApiResult};
use crate::sandbox::api::pages;
use crate::sandbox::api::reply;
use crate::sandbox::api::request::{Caller, JsonBody, Params};
use crate::sandbox::api::{Shared, account_of};
use crate::sandbox::state::model::{Account, SshKey};

#[derive(Debug, Deserialize)]
pub struct CreateRequest {
    name: Option<String>,
    public_key: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct UpdateRequest {
    name: Option<String>,
}

/// Compute the fingerprint DigitalOcean shows: the MD5 of the key blob as
/// colon-separated hex pairs.
pub fn fingerprint(public_key: &str) -> Result<String, ApiError> {
    let invalid =
        || ApiError::unprocessable("Key invalid, key should be of the format `type key [comment]`");
    let key = ssh_key::PublicKey::from_openssh(public_key.trim()).map_err(|_| invalid())?;
    let blob = key.to_bytes().map_err(|_| invalid())?;
    let digest = Md5::digest(&blob);
    Ok(digest
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect::<Vec<_>>()
        .join(":"))
}

pub async fn create(
    State(app): State<Shared>,
    caller: Caller,
    JsonBody(request): JsonBody<CreateRequest>,
) -> ApiResult {
    let name = request
        .name
        .filter(|name| !name.trim().is_empty())
        .ok_or_else(|| ApiError::unprocessable("Name can't be blank"))?;
    let public_key = request
        .public_key
        .ok_or_else(|| ApiError::unprocessable("Public key can't be blank"))?;
    let fingerprint = fingerprint(&public_key)?;

    let key = app.store.update(|world| {
        let id = world.counters.next_ssh_key();
        let account = world.account_mut(&caller.account);
        if account
            .ssh_keys
            .values()
            .any(|key| key.fingerprint == fingerprint)
        {
            return Err(ApiError::unprocessable(
                "SSH Key is already in use on your account",
            ));
        }
        let key = SshKey {
            id,
            name,
            public_key: public_key.trim().to_string(),
            fingerprint,
        };
        account.ssh_keys.insert(id, key.clone());
        Ok(key)
    })?;
    Ok(reply::json(
        StatusCode::CREATED,
        json!({ "ssh_key": key_json(&key) }),
    ))
}

pub async fn list(State(app): State<Shared>, caller: Caller, params: Params) -> ApiResult {
    let items = app.store.read(|world| {
        account_of(world, &caller.account)
            .ssh_keys
            .values()
            .map(key_json)
            .collect()
    });
    Ok(reply::ok(pages::page("ssh_keys", items, &params, &caller)))
}

pub async fn get(
    State(app): State<Shared>,
    caller: Caller,
    Path(identifier): Path<String>,
) -> ApiResult {
    app.store.read(|world| {
        let key = find(account_of(world, &caller.account), &identifier)?;
        Ok(reply::ok(json!({ "ssh_key": key_json(key) })))
    })
}

pub async fn update(
    State(app): State<Shared>,
    caller: Caller,
    Path(identifier): Path<String>,
    JsonBody(request): JsonBody<UpdateRequest>,
) -> ApiResult {
    let key = app.store.update(|world| {
        let account = world.account_mut(&caller.account);
        let id = find(account, &identifier)?.id;
        let key = account
            .ssh_keys
            .get_mut(&id)
            .ok_or_else(ApiError::not_found)?;
        if let Some(name) = request.name {
            if name.trim().is_empty() {
                return Err(ApiError::unprocessable("Name can't be blank"));
            }
            key.name = name;
        }
        Ok(key.clone())
    })?;
    Ok(reply::ok(json!({ "ssh_key": key_json(&key) })))
}

pub async fn delete(
    State(app): State<Shared>,
    caller: Caller,
    Path(identifier): Path<String>,
) -> ApiResult {
    app.store.update(|world| {
        let account = world.account_mut(&caller.account);
        let id = find(account, &identifier)?.id;
        account.ssh_keys.remove(&id);
        Ok::<_, ApiError>(())
    })?;
    Ok(reply::no_content())
}

/// Find a key by id or fingerprint.
fn find<'a>(account: &'a Account, identifier: &str) -> Result<&'a SshKey, ApiError> {
    let by_id = identifier.parse::<u64>().ok();
    account
        .ssh_keys
        .values()
        .find(|key| Some(key.id) == by_id || key.fingerprint == identifier)
        .ok_or_else(ApiError::not_found)
}

fn key_json(key: &SshKey) -> Value {
    json!({
        "id": key.id,
        "fingerprint": key.fingerprint,
        "public_key": key.public_key,
        "name": key.name,
    })
}
