//! The work that follows an API response: droplets boot, actions run to
//! their end, addresses appear, machines are destroyed.
//!
//! Each step is a background task that calls the host backend, waits until
//! the due time stored in the state, and commits the outcome. Due times are
//! persisted, so `resume` restarts the unfinished tasks of a restarted
//! emulator.
//!
//! A create goes `new` → (boot done, boot time passed) `active` without
//! addresses → (address delay passed) `active` with a private and a public
//! IPv4, as the real API shows it.

use std::sync::Arc;

use jiff::Timestamp;

use crate::sandbox::app::App;
use crate::sandbox::hosts::BootRequest;
use crate::sandbox::state::PersistFailed;
use crate::sandbox::state::model::{ActionStatus, Droplet, DropletStatus, Snapshot};

/// Boot a new droplet's machine and complete its create action.
pub fn start_boot(app: Arc<App>, account: String, droplet_id: u64) {
    tokio::spawn(async move { boot(app, account, droplet_id).await });
}

/// Carry out a droplet action and complete it.
pub fn start_action(app: Arc<App>, account: String, action_id: u64) {
    tokio::spawn(async move { run_action(app, account, action_id).await });
}

/// Destroy a deleted droplet's machine, if it has one. Its address counts
/// as held until the machine is gone, so a droplet that gets the address
/// next waits for it.
pub fn start_destroy(app: Arc<App>, droplet: &Droplet) {
    if !droplet.hostless {
        destroy_machine(app, droplet.id, droplet.public_ipv4);
    }
}

fn destroy_machine(app: Arc<App>, droplet_id: u64, address: std::net::Ipv4Addr) {
    app.destroy_started(droplet_id, address);
    tokio::spawn(async move {
        if let Err(error) = app.backend.destroy(droplet_id).await {
            tracing::error!(droplet_id, error = %format!("{error:#}"), "destroying the droplet's machine failed");
        }
        app.destroy_ended(droplet_id);
    });
}

/// How long a boot waits for a deleted droplet's machine to give up the
/// address, before it tries anyway.
const ADDRESS_RELEASE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

async fn wait_for_address(app: &App, address: std::net::Ipv4Addr) {
    let started = std::time::Instant::now();
    while app.address_being_freed(address) && started.elapsed() < ADDRESS_RELEASE_TIMEOUT {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// Restart the tasks a stopped emulator left unfinished, and bring up the
/// machines of droplets that exist (the backend's boot is idempotent).
pub fn resume(app: &Arc<App>) {
    let pending = app.store.read(|world| {
        let mut pending = Vec::new();
        for (account, state) in &world.accounts {
            for droplet in state.droplets.values() {
                let creating = state
                    .actions
                    .get(&droplet.create_action_id)
                    .is_some_and(|action| action.status == ActionStatus::InProgress);
                let task = if creating {
                    Resume::Boot(droplet.id)
                } else if droplet.status != DropletStatus::New {
                    Resume::Reattach(droplet.id, droplet.status, !droplet.networks_visible)
                } else {
                    continue;
                };
                pending.push((account.clone(), task));
            }
            for action in state.actions.values() {
                if action.status == ActionStatus::InProgress && action.kind != "create" {
                    pending.push((account.clone(), Resume::Action(action.id)));
                }
            }
        }
        pending
    });

    for (account, task) in pending {
        tracing::info!(?task, "resuming");
        let app = app.clone();
        match task {
            Resume::Boot(droplet_id) => start_boot(app, account, droplet_id),
            Resume::Action(action_id) => start_action(app, account, action_id),
            Resume::Reattach(droplet_id, status, reveal) => {
                tokio::spawn(reattach(app, account, droplet_id, status, reveal));
            }
        }
    }
}

#[derive(Debug)]
enum Resume {
    Boot(u64),
    Action(u64),
    /// An existing droplet: its status, and whether its addresses are
    /// still to appear.
    Reattach(u64, DropletStatus, bool),
}

async fn boot(app: Arc<App>, account: String, droplet_id: u64) {
    let Some((request, action_id, due_at, hostless)) = app.store.read(|world| {
        let state = world.accounts.get(&account)?;
        let droplet = state.droplets.get(&droplet_id)?;
        let action = state.actions.get(&droplet.create_action_id)?;
        let request = BootRequest {
            droplet_id,
            name: droplet.name.clone(),
            address: droplet.public_ipv4,
            authorized_keys: droplet.authorized_keys.clone(),
            user_data: droplet.user_data.clone(),
        };
        Some((request, action.id, action.due_at, droplet.hostless))
    }) else {
        return;
    };

    let faults = app.faults_of(&account);
    let outcome = if faults.fails_action("create", droplet_id) {
        Err(anyhow::anyhow!("an injected fault fails this create"))
    } else if hostless {
        Ok(())
    } else {
        wait_for_address(&app, request.address).await;
        app.backend.boot(request.clone()).await
    };
    sleep_until(due_at).await;

    let ip_delay = app.scaled(app.settings(&key(&account)).ip_delay);
    let networks_due = Timestamp::now()
        .checked_add(ip_delay)
        .unwrap_or(Timestamp::MAX);
    let succeeded = outcome.is_ok();
    let committed = app.store.update(|world| {
        let Some(state) = world.accounts.get_mut(&account) else {
            return Ok::<_, PersistFailed>(false);
        };
        let now = Timestamp::now();
        if let Some(action) = state.actions.get_mut(&action_id)
            && action.status == ActionStatus::InProgress
        {
            action.status = if succeeded {
                ActionStatus::Completed
            } else {
                ActionStatus::Errored
            };
            action.completed_at = Some(now);
        }
        let Some(droplet) = state.droplets.get_mut(&droplet_id) else {
            return Ok(false);
        };
        if succeeded {
            droplet.status = DropletStatus::Active;
            droplet.networks_due_at = Some(networks_due);
        }
        Ok(true)
    });

    match (committed, outcome) {
        (Ok(true), Ok(())) => {
            tracing::info!(droplet_id, "droplet active");
            reveal_networks(&app, &account, droplet_id).await;
        }
        (Ok(true), Err(error)) => {
            tracing::warn!(droplet_id, error = %format!("{error:#}"), "droplet create errored");
        }
        (Ok(false), _) => {
            // Deleted while booting: the delete's destroy may have run before
            // the boot finished, so destroy again.
            if !hostless {
                destroy_machine(app.clone(), droplet_id, request.address);
            }
        }
        (Err(error), _) => tracing::error!(droplet_id, %error, "cannot record the create's end"),
    }
}

/// Show the droplet's addresses once their delay has passed, unless a
/// fault withholds them.
async fn reveal_networks(app: &Arc<App>, account: &str, droplet_id: u64) {
    let Some((name, due_at)) = app.store.read(|world| {
        let droplet = world.accounts.get(account)?.droplets.get(&droplet_id)?;
        Some((droplet.name.clone(), droplet.networks_due_at?))
    }) else {
        return;
    };
    sleep_until(due_at).await;

    if app.faults_of(account).withholds_address(&name) {
        tracing::info!(
            droplet_id,
            name,
            "injected fault: the droplet gets no address"
        );
        return;
    }
    let result = app.store.update(|world| {
        if let Some(droplet) = world
            .accounts
            .get_mut(account)
            .and_then(|state| state.droplets.get_mut(&droplet_id))
        {
            droplet.networks_visible = true;
        }
        Ok::<_, PersistFailed>(())
    });
    if let Err(error) = result {
        tracing::error!(droplet_id, %error, "cannot record the droplet's addresses");
    }
}

async fn reattach(
    app: Arc<App>,
    account: String,
    droplet_id: u64,
    status: DropletStatus,
    reveal: bool,
) {
    let request = app.store.read(|world| {
        let droplet = world.accounts.get(&account)?.droplets.get(&droplet_id)?;
        if droplet.hostless {
            return None;
        }
        Some(BootRequest {
            droplet_id,
            name: droplet.name.clone(),
            address: droplet.public_ipv4,
            authorized_keys: droplet.authorized_keys.clone(),
            user_data: droplet.user_data.clone(),
        })
    });
    let Some(request) = request else {
        if reveal {
            reveal_networks(&app, &account, droplet_id).await;
        }
        return;
    };

    let mut result = app.backend.boot(request).await;
    if result.is_ok() && status == DropletStatus::Off {
        result = app.backend.power_off(droplet_id).await;
    }
    if let Err(error) = result {
        tracing::error!(droplet_id, error = %format!("{error:#}"), "bringing up the droplet's machine failed");
    }
    if reveal {
        reveal_networks(&app, &account, droplet_id).await;
    }
}

async fn run_action(app: Arc<App>, account: String, action_id: u64) {
    let Some((kind, droplet_id, due_at, snapshot, hostless)) = app.store.read(|world| {
        let state = world.accounts.get(&account)?;
        let action = state.actions.get(&action_id)?;
        let hostless = state
            .droplets
            .get(&action.droplet_id)
            .is_some_and(|droplet| droplet.hostless);
        Some((
            action.kind.clone(),
            action.droplet_id,
            action.due_at,
            action.snapshot.clone(),
            hostless,
        ))
    }) else {
        return;
    };

    let outcome = if app.faults_of(&account).fails_action(&kind, droplet_id) {
        Err(anyhow::anyhow!("an injected fault fails this action"))
    } else if hostless {
        Ok(())
    } else {
        perform(&app, &kind, droplet_id, snapshot.as_ref().map(|s| s.id)).await
    };
    sleep_until(due_at).await;

    if let Err(error) = &outcome {
        tracing::warn!(action_id, droplet_id, kind, error = %format!("{error:#}"), "droplet action errored");
    }
    let succeeded = outcome.is_ok();
    let result = app.store.update(|world| {
        let Some(state) = world.accounts.get_mut(&account) else {
            return Ok::<_, PersistFailed>(());
        };
        let now = Timestamp::now();
        let Some(action) = state.actions.get_mut(&action_id) else {
            return Ok(());
        };
        if action.status != ActionStatus::InProgress {
            return Ok(());
        }
        action.status = if succeeded {
            ActionStatus::Completed
        } else {
            ActionStatus::Errored
        };
        action.completed_at = Some(now);

        let Some(droplet) = state.droplets.get_mut(&droplet_id) else {
            return Ok(());
        };
        droplet.locked = false;
        if !succeeded {
            return Ok(());
        }
        match kind.as_str() {
            "shutdown" | "power_off" => droplet.status = DropletStatus::Off,
            "power_on" | "reboot" | "power_cycle" => droplet.status = DropletStatus::Active,
            _ => {}
        }
        if let Some(pending) = &snapshot {
            droplet.snapshot_ids.push(pending.id);
            let size = crate::sandbox::catalog::size_by_slug(&droplet.size_slug);
            let snapshot = Snapshot {
                id: pending.id,
                name: pending.name.clone(),
                created_at: now,
                droplet_id,
                region_slug: droplet.region_slug.clone(),
                min_disk_size: size.map_or(25, |size| size.disk_gib),
                size_gigabytes: 1.64,
                tags: Vec::new(),
            };
            state.snapshots.insert(pending.id, snapshot);
        }
        Ok(())
    });
    if let Err(error) = result {
        tracing::error!(action_id, %error, "cannot record the action's end");
    }
}

/// Call the host backend for an action.
async fn perform(
    app: &App,
    kind: &str,
    droplet_id: u64,
    snapshot_id: Option<u64>,
) -> anyhow::Result<()> {
    let backend = &app.backend;
    match kind {
        "shutdown" => backend.shutdown(droplet_id).await,
        "power_off" => backend.power_off(droplet_id).await,
        "power_on" => backend.power_on(droplet_id).await,
        "reboot" => {
            backend.shutdown(droplet_id).await?;
            backend.power_on(droplet_id).await
        }
        "power_cycle" => {
            backend.power_off(droplet_id).await?;
            backend.power_on(droplet_id).await
        }
        "snapshot" => match snapshot_id {
            Some(id) => backend.snapshot(droplet_id, id).await,
            None => Err(anyhow::anyhow!("the snapshot action has no snapshot id")),
        },
        // Actions accepted by tag that have no effect on a lab host
        // (backups, IPv6) complete without one.
        _ => Ok(()),
    }
}

async fn sleep_until(due: Timestamp) {
    let remaining = due.duration_since(Timestamp::now());
    if let Ok(wait) = std::time::Duration::try_from(remaining) {
        tokio::time::sleep(wait).await;
    }
}

fn key(account: &str) -> crate::sandbox::token::AccountKey {
    crate::sandbox::token::AccountKey(account.to_string())
}
