//! `wwctl rollback --from <fleet> --to <fleet>`: point DNS back at the old fleet.

use crate::cli::{GlobalArgs, RollbackArgs};
use crate::commands::playbook_run::{self, PlaybookCommand};
use crate::engine::context::RunOptions;
use crate::engine::runner::RunRequest;
use crate::error::{ExitCode, UserError};
use crate::inventory::Inventory;
use crate::playbook::Params;
use crate::resources::Resources;

pub fn run(global: &GlobalArgs, args: &RollbackArgs) -> anyhow::Result<ExitCode> {
    let mut params = Params::new();
    params.insert("from".to_string(), Some(args.from.clone()));
    params.insert("to".to_string(), Some(args.to.clone()));
    let options = RunOptions {
        yes: global.yes,
        ..RunOptions::default()
    };
    playbook_run::run(
        global,
        PlaybookCommand {
            playbook: "rollback",
            params,
            plan: &args.plan,
            options,
            distinct_fleets: Some(("from", "to")),
            preflight: Some(check_old_servers),
        },
    )
}

/// Rejects a rollback whose old servers are gone. Rollback only points DNS
/// back, so every droplet of each environment its steps target must be
/// alive with a recorded address: the entry proxy and the app and database
/// servers behind it. Without this check the run fails in its first step
/// with an error that no retry can fix.
pub fn check_old_servers(
    inventory: &Inventory,
    request: &RunRequest,
    resources: &Resources,
) -> Result<(), UserError> {
    let param = |name: &str| {
        request
            .params
            .get(name)
            .cloned()
            .flatten()
            .unwrap_or_default()
    };
    let (from, to) = (param("from"), param("to"));

    let mut environments: Vec<(&str, &str)> = Vec::new();
    for target in request.steps.iter().flat_map(|step| &step.targets) {
        if let Some(droplet) = inventory.find_droplet(target) {
            let key = (droplet.fleet.as_str(), droplet.env.as_str());
            if !environments.contains(&key) {
                environments.push(key);
            }
        }
    }

    let mut missing = Vec::new();
    for (fleet, env) in environments {
        for droplet in inventory.droplets(fleet, Some(env)) {
            if let Some(problem) = missing_server(resources, &droplet.name) {
                missing.push(format!("`{}` {problem}", droplet.name));
            }
        }
    }
    if missing.is_empty() {
        return Ok(());
    }

    Err(UserError::refused(format!(
        "cannot roll back to fleet `{to}`: rollback needs its servers, and these are missing:\n{}",
        missing.join("\n")
    ))
    .with_hint(format!(
        "rollback only points DNS back at servers that still run; to move production back to fleet `{to}`, run `wwctl migrate --from {from} --to {to}`, which creates its servers again and copies the current database"
    )))
}

/// Returns why droplet `name` cannot take traffic, or `None` when it can.
fn missing_server(resources: &Resources, name: &str) -> Option<String> {
    let Some(record) = resources.droplets.get(name) else {
        return Some(
            "is not recorded in the state folder: wwctl never created or adopted it".to_string(),
        );
    };
    if let Some(deleted_at) = record.deleted_at {
        return Some(format!(
            "no longer exists: wwctl deleted it at {deleted_at}"
        ));
    }
    if record.address.is_none() {
        return Some("has no recorded address".to_string());
    }
    None
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::check_old_servers;
    use crate::engine::runner::RunRequest;
    use crate::error::ExitCode;
    use crate::inventory::Inventory;
    use crate::playbook::{self, Params};
    use crate::resources::{OwnedDroplet, Ownership, Resources};

    fn rollback_request() -> (Inventory, RunRequest) {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let inventory = crate::inventory::load(&root.join("inventory"), None).unwrap();
        let playbook = playbook::load(&root.join("playbooks"), "rollback", &inventory).unwrap();
        let mut requested = Params::new();
        requested.insert("from".to_string(), Some("2023".to_string()));
        requested.insert("to".to_string(), Some("2022".to_string()));
        let params = playbook.check_params(&inventory, &requested).unwrap();
        let steps = playbook.resolve(&inventory, &params).unwrap();
        let request = RunRequest {
            command: "wwctl rollback --from 2023 --to 2022".to_string(),
            playbook,
            params,
            steps,
        };
        (inventory, request)
    }

    /// Records every droplet of fleet 2022 as live, with an address.
    fn fleet_2022_recorded(inventory: &Inventory) -> Resources {
        let mut resources = Resources::default();
        for (id, droplet) in inventory.droplets("2022", None).into_iter().enumerate() {
            resources.droplets.insert(
                droplet.name.clone(),
                OwnedDroplet {
                    id: id as u64 + 1,
                    name: droplet.name.clone(),
                    fleet: "2022".to_string(),
                    env: droplet.env.clone(),
                    origin: Ownership::Created,
                    run_id: "run-1".to_string(),
                    recorded_at: jiff::Timestamp::UNIX_EPOCH,
                    address: Some(format!("192.0.2.{}", id + 1)),
                    host_keys: Vec::new(),
                    deleted_at: None,
                },
            );
        }
        resources
    }

    #[test]
    fn old_servers_alive_pass() {
        let (inventory, request) = rollback_request();
        let mut resources = fleet_2022_recorded(&inventory);
        // Staging takes no production traffic, so rollback does not need it.
        resources.droplets.shift_remove("staging-2022");

        assert_eq!(check_old_servers(&inventory, &request, &resources), Ok(()));
    }

    #[test]
    fn deleted_old_servers_refuse() {
        let (inventory, request) = rollback_request();
        let mut resources = fleet_2022_recorded(&inventory);
        let deleted_at: jiff::Timestamp = "2026-12-04T20:15:00Z".parse().unwrap();
        resources.droplets["lb-2022"].deleted_at = Some(deleted_at);
        resources.droplets.shift_remove("db-2022");

        let error = check_old_servers(&inventory, &request, &resources).unwrap_err();

        assert_eq!(error.exit_code, ExitCode::Refused);
        assert!(
            error.message.contains("cannot roll back to fleet `2022`"),
            "{}",
            error.message
        );
        assert!(
            error
                .message
                .contains("`lb-2022` no longer exists: wwctl deleted it at 2026-12-04T20:15:00Z"),
            "{}",
            error.message
        );
        assert!(
            error.message.contains("`db-2022` is not recorded"),
            "{}",
            error.message
        );
        assert!(!error.message.contains("app1-2022"), "{}", error.message);
        let hint = error.hint.unwrap_or_default();
        assert!(
            hint.contains("wwctl migrate --from 2023 --to 2022"),
            "{hint}"
        );
    }
}
