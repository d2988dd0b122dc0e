//! `GET /v2/account`: the token check clients make first.

use axum::extract::State;
use serde_json::json;

use crate::sandbox::api::Shared;
use crate::sandbox::api::error::{ApiError, ApiResult};
use crate::sandbox::api::reply;
use crate::sandbox::api::request::Caller;

pub async fn get(State(app): State<Shared>, caller: Caller) -> ApiResult {
    let known = app.store.read(|world| {
        world
            .account(&caller.account)
            .map(|account| account.uuid.clone())
    });
    let uuid = match known {
        Some(uuid) => uuid,
        None => app
            .store
            .update(|world| Ok::<_, ApiError>(world.account_mut(&caller.account).uuid.clone()))?,
    };
    let droplet_limit = app.settings(&caller.account).droplet_limit;
    Ok(reply::ok(json!({
        "account": {
            "droplet_limit": droplet_limit,
            "floating_ip_limit": 3,
            "email": "sandbox@wwctl.invalid",
            "name": "wwctl sandbox",
            "uuid": uuid.replace('-', ""),
            "email_verified": true,
            "status": "active",
            "status_message": "",
        }
    })))
}
