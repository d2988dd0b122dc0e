//! `teardown.check`, `teardown.snapshot`, `teardown.delete` and
//! `hosts.forget`: delete a retired fleet, only what wwctl can prove it
//! owns, only after its traffic has drained.
//!
//! The check step decides what to delete (`crate::teardown::select`) and
//! prompts for confirmation; the later steps act on exactly the droplet ids it
//! journaled, so a resumed teardown deletes nothing it did not confirm.

use std::io::{BufRead, IsTerminal, Write};
use std::time::Duration;

use jiff::Timestamp;

use crate::cloud::{
    CloudClient, Deletion, DropletAction, DropletStatus, PollSettings, RecordFilter, RecordType,
};
use crate::engine::context::StepContext;
use crate::engine::journal::{JournalStore, RunStatus, StepState};
use crate::engine::plan::{Change, ChangeAction, StepPlan};
use crate::error::{ExitCode, UserError};
use crate::remote::known_hosts::host_pattern;
use crate::resources::OwnedSnapshot;
use crate::teardown::{Listed, RecordView, Refusal, Selected, Selection, World, fleet_tag, select};

const SELECTION_KEY: &str = "selection";

/// Returns the fleet a teardown's targets belong to.
fn fleet_of(ctx: &StepContext<'_>) -> anyhow::Result<String> {
    let first = ctx
        .step
        .targets
        .first()
        .ok_or_else(|| anyhow::anyhow!("the teardown has no targets"))?;
    Ok(ctx.droplet(first)?.fleet.clone())
}

/// Checks whether a migration away from `fleet` finished with its health check done.
fn migrated_away(ctx: &StepContext<'_>, fleet: &str) -> anyhow::Result<bool> {
    let journals = JournalStore::new(ctx.services.state.runs_dir()).list()?;
    Ok(journals.iter().any(|journal| {
        journal.playbook == "migrate"
            && journal.status == RunStatus::Done
            && journal.params.get("from").and_then(Option::as_deref) == Some(fleet)
            && journal
                .steps
                .iter()
                .any(|step| step.kind == "sites.health" && step.state == StepState::Done)
    }))
}

/// Read what the selection decides on: the fleet's droplets, the managed
/// zones' address records, the registry, the journals.
async fn gather(
    ctx: &StepContext<'_>,
    cloud: &CloudClient,
) -> anyhow::Result<(Vec<Listed>, Vec<RecordView>, bool)> {
    let fleet = fleet_of(ctx)?;
    let registry = ctx.services.resources().await?.snapshot();

    let mut listed: Vec<Listed> = Vec::new();
    let push = |droplet: &crate::cloud::Droplet, listed: &mut Vec<Listed>| {
        if !listed.iter().any(|known| known.id == droplet.id) {
            listed.push(Listed {
                id: droplet.id,
                name: droplet.name.clone(),
                tags: droplet.tags.clone(),
                address: droplet.public_ipv4().map(|ip| ip.to_string()),
            });
        }
    };
    for droplet in cloud.droplets_by_tag(&fleet_tag(&fleet)).await? {
        push(&droplet, &mut listed);
    }
    for name in &ctx.step.targets {
        if let Some(owned) = registry.droplet(name) {
            match cloud.droplet(owned.id).await {
                Ok(droplet) => push(&droplet, &mut listed),
                Err(error) if error.is_not_found() => {}
                Err(error) => return Err(error.into()),
            }
        }
    }

    let mut records = Vec::new();
    for zone in ctx.inventory().dns.zones.values() {
        if cloud.domain(&zone.name).await?.is_none() {
            continue;
        }
        for kind in [RecordType::A, RecordType::AAAA] {
            let filter = RecordFilter {
                kind: Some(kind),
                name: None,
            };
            for record in cloud.records(&zone.name, &filter).await? {
                let name = if record.name == "@" {
                    zone.name.clone()
                } else {
                    format!("{}.{}", record.name, zone.name)
                };
                if let Some(data) = record.data {
                    records.push(RecordView { name, data });
                }
            }
        }
    }
    Ok((listed, records, migrated_away(ctx, &fleet)?))
}

async fn decide(
    ctx: &StepContext<'_>,
    cloud: &CloudClient,
) -> anyhow::Result<Result<Selection, Vec<Refusal>>> {
    let fleet = fleet_of(ctx)?;
    let registry = ctx.services.resources().await?.snapshot();
    let (listed, records, migrated) = gather(ctx, cloud).await?;
    let world = World {
        fleet: &fleet,
        targets: &ctx.step.targets,
        registry: &registry,
        listed: &listed,
        records: &records,
        migrated,
        now: ctx.services.clock.now(),
        force: ctx.services.options.force,
    };
    Ok(select(&world))
}

fn refused(fleet: &str, refusals: &[Refusal]) -> anyhow::Error {
    let lines: Vec<String> = refusals
        .iter()
        .map(|refusal| format!("- {refusal}\n  hint: {}", refusal.hint(fleet)))
        .collect();
    UserError::new(
        ExitCode::Refused,
        format!("teardown of fleet `{fleet}` refused:\n{}", lines.join("\n")),
    )
    .into()
}

fn describe(selected: &Selected) -> String {
    format!(
        "{} (id {}, {})",
        selected.name,
        selected.id,
        selected.address.as_deref().unwrap_or("no address")
    )
}

pub fn plan_check_offline(ctx: &StepContext<'_>) -> anyhow::Result<StepPlan> {
    let fleet = fleet_of(ctx)?;
    Ok(StepPlan::with_changes(vec![Change::new(
        ChangeAction::Check,
        None,
        format!("check ownership, DNS, the migration's health gate and the drain time of fleet `{fleet}`"),
    )
    .detail(format!("droplets: {}", ctx.step.targets.join(", ")))]))
}

pub async fn plan_check(ctx: &StepContext<'_>) -> anyhow::Result<StepPlan> {
    let cloud = ctx.services.cloud().await?;
    let fleet = fleet_of(ctx)?;
    let mut plan = StepPlan::default();
    match decide(ctx, &cloud).await? {
        Ok(selection) => {
            for selected in &selection.droplets {
                plan.changes.push(Change::new(
                    ChangeAction::Delete,
                    Some(selected.name.clone()),
                    format!("delete {}", describe(selected)),
                ));
            }
            for name in &selection.absent {
                plan.changes
                    .push(Change::no_change(Some(name.clone()), "already gone"));
            }
            for (address, until) in &selection.forced_drains {
                plan.notes.push(format!(
                    "--force: {address} may still get traffic until {until}"
                ));
            }
        }
        Err(refusals) => {
            plan.changes.push(Change::new(
                ChangeAction::Check,
                None,
                format!("teardown of fleet `{fleet}` would be refused"),
            ));
            for refusal in refusals {
                plan.notes
                    .push(format!("{refusal} (hint: {})", refusal.hint(&fleet)));
            }
        }
    }
    Ok(plan)
}

pub async fn apply_check(ctx: &StepContext<'_>) -> anyhow::Result<()> {
    let cloud = ctx.services.cloud().await?;
    let fleet = fleet_of(ctx)?;
    let selection = decide(ctx, &cloud)
        .await?
        .map_err(|refusals| refused(&fleet, &refusals))?;

    if !ctx.services.options.yes {
        confirm(ctx, &fleet, &selection)?;
    }
    ctx.record_output(SELECTION_KEY, serde_json::to_value(&selection.droplets)?)?;
    ctx.record_output("absent", serde_json::json!(selection.absent))?;
    Ok(())
}

/// Ask for the fleet's name to be typed after listing what will be deleted.
fn confirm(ctx: &StepContext<'_>, fleet: &str, selection: &Selection) -> anyhow::Result<()> {
    ctx.services.progress.suspend(|| -> anyhow::Result<()> {
        let mut stderr = std::io::stderr().lock();
        writeln!(
            stderr,
            "\nThese droplets of fleet `{fleet}` will be shut down and deleted:"
        )?;
        for selected in &selection.droplets {
            writeln!(stderr, "  {}", describe(selected))?;
        }
        for (address, until) in &selection.forced_drains {
            writeln!(
                stderr,
                "  --force: {address} may still get traffic until {until}"
            )?;
        }
        write!(stderr, "Type the fleet name `{fleet}` to go on: ")?;
        stderr.flush()?;

        let mut answer = String::new();
        let read = std::io::stdin().lock().read_line(&mut answer)?;
        if read == 0 && !std::io::stdin().is_terminal() {
            return Err(UserError::refused("no confirmation: stdin is closed")
                .with_hint("pass `--yes` to confirm without a prompt (CI)")
                .into());
        }
        if answer.trim() != fleet {
            return Err(UserError::refused(format!(
                "confirmation `{}` does not match the fleet name `{fleet}`; nothing was deleted",
                answer.trim()
            ))
            .into());
        }
        Ok(())
    })
}

/// Returns the droplets the check step selected and the user confirmed.
fn confirmed(ctx: &StepContext<'_>) -> anyhow::Result<Vec<Selected>> {
    let value = ctx
        .output_of_kind("teardown.check", SELECTION_KEY)
        .ok_or_else(|| {
            anyhow::anyhow!(
                "the teardown check recorded no selection; run the command again from the check"
            )
        })?;
    Ok(serde_json::from_value(value)?)
}

pub fn plan_snapshot_offline(ctx: &StepContext<'_>) -> StepPlan {
    if ctx.services.options.no_snapshot {
        return StepPlan::default().note("--no-snapshot: no final snapshot");
    }
    let changes = per_target(
        ctx,
        ChangeAction::Create,
        "shut down, then take a final snapshot",
    )
    .into_iter()
    .map(|change| change.unknown("snapshot id"))
    .collect();
    StepPlan::with_changes(changes)
}

pub async fn apply_snapshot(ctx: &StepContext<'_>) -> anyhow::Result<()> {
    if ctx.services.options.no_snapshot {
        return Ok(());
    }
    let cloud = ctx.services.cloud().await?;
    for selected in confirmed(ctx)?
        .into_iter()
        .filter(|selected| ctx.step.targets.contains(&selected.name))
    {
        snapshot_one(ctx, &cloud, &selected).await?;
    }
    Ok(())
}

async fn snapshot_one(
    ctx: &StepContext<'_>,
    cloud: &CloudClient,
    selected: &Selected,
) -> anyhow::Result<()> {
    let resources = ctx.services.resources().await?;
    let name = format!("wwctl-final-{}-{}", selected.name, ctx.run_id);
    if resources
        .snapshot()
        .snapshots
        .iter()
        .any(|snapshot| snapshot.name == name)
    {
        return Ok(());
    }

    power_down(ctx, cloud, selected.id).await?;
    let action_key = format!("{}.snapshot_action", selected.name);
    let action_id = match ctx.own_output(&action_key).and_then(|value| value.as_u64()) {
        Some(id) => id,
        None => {
            let action = cloud
                .start_droplet_action(selected.id, &DropletAction::Snapshot { name: name.clone() })
                .await?;
            ctx.record_output(&action_key, serde_json::json!(action.id))?;
            action.id
        }
    };
    ctx.services
        .progress
        .message(&format!("{}: taking the final snapshot", selected.name));
    cloud
        .wait_for_action(action_id, PollSettings::SNAPSHOT)
        .await?;

    let snapshot = cloud
        .droplet_snapshots(selected.id)
        .await?
        .into_iter()
        .find(|snapshot| snapshot.name == name)
        .ok_or_else(|| {
            anyhow::anyhow!(
                "snapshot `{name}` finished but is not listed for droplet {}",
                selected.id
            )
        })?;
    resources.update(|registry| {
        registry.snapshots.push(OwnedSnapshot {
            id: snapshot.id,
            name: name.clone(),
            droplet_id: selected.id,
            droplet_name: selected.name.clone(),
            run_id: ctx.run_id.to_string(),
            taken_at: Timestamp::now(),
        });
    })?;
    ctx.record_output(
        &format!("{}.snapshot_id", selected.name),
        serde_json::json!(snapshot.id),
    )?;
    ctx.services.progress.println(&format!(
        "final snapshot of `{}`: id {} (`{name}`)",
        selected.name, snapshot.id
    ));
    Ok(())
}

/// Shut a droplet down, and power it off when the shutdown does not finish
/// within the inventory's shutdown timeout.
async fn power_down(ctx: &StepContext<'_>, cloud: &CloudClient, id: u64) -> anyhow::Result<()> {
    if cloud.droplet(id).await?.status == DropletStatus::Off {
        return Ok(());
    }
    let timeout = ctx.inventory().cloud.shutdown_timeout;
    let poll = PollSettings::new(ctx.inventory().cloud.poll_interval, timeout);
    let shutdown = cloud
        .start_droplet_action(id, &DropletAction::Shutdown)
        .await?;
    let graceful = cloud.wait_for_action(shutdown.id, poll).await;
    if graceful.is_ok() && cloud.droplet(id).await?.status == DropletStatus::Off {
        return Ok(());
    }
    tracing::warn!(
        droplet_id = id,
        "shutdown did not finish in time; powering off"
    );
    let power_off = cloud
        .start_droplet_action(id, &DropletAction::PowerOff)
        .await?;
    cloud
        .wait_for_action(
            power_off.id,
            PollSettings::new(poll.interval, Duration::from_secs(300)),
        )
        .await?;
    Ok(())
}

pub fn plan_delete_offline(ctx: &StepContext<'_>) -> StepPlan {
    StepPlan::with_changes(per_target(
        ctx,
        ChangeAction::Delete,
        "shut down, power off if needed, delete",
    ))
}

/// Build one change of `action` for each target of the step.
fn per_target(ctx: &StepContext<'_>, action: ChangeAction, summary: &str) -> Vec<Change> {
    ctx.step
        .targets
        .iter()
        .map(|name| Change::new(action, Some(name.clone()), summary))
        .collect()
}

pub async fn apply_delete(ctx: &StepContext<'_>) -> anyhow::Result<()> {
    let cloud = ctx.services.cloud().await?;
    let resources = ctx.services.resources().await?;
    for selected in confirmed(ctx)? {
        ctx.services
            .progress
            .message(&format!("{}: shutting down and deleting", selected.name));
        match cloud.droplet(selected.id).await {
            Ok(_) => power_down(ctx, &cloud, selected.id).await?,
            Err(error) if error.is_not_found() => {}
            Err(error) => return Err(error.into()),
        }
        let outcome = cloud.delete_droplet(selected.id).await?;
        resources.update(|registry| {
            if let Some(record) = registry.droplets.get_mut(&selected.name)
                && record.id == selected.id
            {
                record.deleted_at = Some(Timestamp::now());
            }
        })?;
        let how = if outcome == Deletion::AlreadyGone {
            "was already gone"
        } else {
            "deleted"
        };
        ctx.record_output(
            &format!("{}.deleted", selected.name),
            serde_json::json!(selected.id),
        )?;
        ctx.services
            .progress
            .println(&format!("{}: droplet {} {how}", selected.name, selected.id));
    }
    Ok(())
}

/// Returns the targets an earlier teardown deleted, by the owned-resources
/// registry.
async fn deleted_targets(ctx: &StepContext<'_>) -> anyhow::Result<Vec<String>> {
    let registry = ctx.services.resources().await?.snapshot();
    Ok(ctx
        .step
        .targets
        .iter()
        .filter(|name| {
            registry
                .droplets
                .get(*name)
                .is_some_and(|record| record.deleted_at.is_some())
        })
        .cloned()
        .collect())
}

/// Turns the changes of `plan` for the targets in `done` into no-changes.
fn settle(mut plan: StepPlan, done: &[String], summary: &str) -> StepPlan {
    for change in &mut plan.changes {
        if change
            .target
            .as_ref()
            .is_some_and(|target| done.contains(target))
        {
            *change = Change::no_change(change.target.clone(), summary);
        }
    }
    plan
}

pub async fn plan_snapshot(ctx: &StepContext<'_>) -> anyhow::Result<StepPlan> {
    let deleted = deleted_targets(ctx).await?;
    Ok(settle(
        plan_snapshot_offline(ctx),
        &deleted,
        "already deleted",
    ))
}

pub async fn plan_delete(ctx: &StepContext<'_>) -> anyhow::Result<StepPlan> {
    let deleted = deleted_targets(ctx).await?;
    Ok(settle(
        plan_delete_offline(ctx),
        &deleted,
        "already deleted",
    ))
}

pub async fn plan_forget(ctx: &StepContext<'_>) -> anyhow::Result<StepPlan> {
    let registry = ctx.services.resources().await?.snapshot();
    let connections = ctx.services.connections().await?;
    let mut forgotten = Vec::new();
    for name in deleted_targets(ctx).await? {
        let address = registry
            .droplets
            .get(&name)
            .and_then(|record| record.address.clone());
        let pinned = match address {
            Some(address) => connections.is_pinned(&host_pattern(&address, 22)).await,
            None => false,
        };
        if !pinned {
            forgotten.push(name);
        }
    }
    Ok(settle(
        plan_forget_offline(ctx),
        &forgotten,
        "host keys already forgotten",
    ))
}

pub fn plan_forget_offline(ctx: &StepContext<'_>) -> StepPlan {
    StepPlan::with_changes(per_target(
        ctx,
        ChangeAction::Delete,
        "forget its host keys",
    ))
}

pub async fn apply_forget(ctx: &StepContext<'_>) -> anyhow::Result<()> {
    let registry = ctx.services.resources().await?.snapshot();
    let connections = ctx.services.connections().await?;
    for name in &ctx.step.targets {
        let Some(record) = registry.droplets.get(name) else {
            continue;
        };
        if record.deleted_at.is_none() {
            continue;
        }
        if let Some(address) = &record.address {
            connections.forget(&host_pattern(address, 22)).await?;
        }
    }
    Ok(())
}
