//! `database.sync`: copy the database from the server that serves it now
//! to the new one, and prove both sides equal.
//!
//! Writes on the source are frozen first (`read_only`), and stay frozen:
//! until DNS moves, the old servers still take traffic, and a write there
//! after the copy would be lost. The target's copy of the database is reset
//! before each attempt, so an interrupted sync is redone from the start.
//! The step is done only when every table's row count and checksum match.

use std::time::Duration;

use crate::database::copy::CopyMethod;
use crate::database::dump::SyncMode;
use crate::database::pipeline::StreamFormat;
use crate::database::preflight::{self, PreflightOptions};
use crate::database::sql::SqlRunner;
use crate::database::sync::{self as db_sync, SyncOptions};
use crate::database::verify;
use crate::database::{cutover, quote};
use crate::engine::context::StepContext;
use crate::engine::plan::{Change, ChangeAction, StepPlan};
use crate::error::{HintExt, UserError};
use crate::inventory::Droplet;
use crate::output::count;
use crate::steps::FromFleet;

use super::database::endpoint;

/// How long the freeze waits for open write transactions to finish.
const FREEZE_TIMEOUT: Duration = Duration::from_secs(120);
const FREEZE_POLL: Duration = Duration::from_millis(200);

/// Returns the database server of the same environment in the source fleet.
fn source_of<'a>(
    ctx: &'a StepContext<'_>,
    params: &FromFleet,
    target: &Droplet,
) -> anyhow::Result<&'a Droplet> {
    let from = params.from.as_deref().ok_or_else(|| {
        UserError::usage("a `database.sync` step needs `with: { from: <fleet> }`")
    })?;
    ctx.inventory()
        .database_droplet(from, &target.env)
        .ok_or_else(|| {
            anyhow::anyhow!(
                "fleet `{from}` has no `{}` database server to copy from",
                target.env
            )
        })
}

fn options(ctx: &StepContext<'_>, writes_frozen: bool) -> SyncOptions {
    let database = &ctx.inventory().database;
    let mut preflight = PreflightOptions::new(&database.name, SyncMode::DumpLoad);
    preflight.writes_frozen = writes_frozen;
    let method = match database.sync.method.as_str() {
        "dump" => CopyMethod::Single,
        _ => CopyMethod::Parallel {
            jobs: usize::try_from(database.sync.parallel).unwrap_or(4),
        },
    };
    SyncOptions {
        preflight,
        method,
        compression: database.sync.compress,
        charset: database.charset.clone(),
        collation: database.collation.clone(),
    }
}

pub fn plan_offline(ctx: &StepContext<'_>, params: &FromFleet) -> anyhow::Result<StepPlan> {
    let mut changes = Vec::new();
    for name in &ctx.step.targets {
        let target = ctx.droplet(name)?;
        let source = source_of(ctx, params, target)?;
        changes.push(
            Change::run(
                Some(name.clone()),
                format!(
                    "copy database `{}` from `{}`",
                    ctx.inventory().database.name,
                    source.name
                ),
            )
            .detail(format!(
                "writes on `{}` are frozen from the copy until DNS moves",
                source.name
            ))
            .detail("then every table's rows and checksum must match on both sides"),
        );
    }
    Ok(StepPlan::with_changes(changes))
}

pub async fn plan(ctx: &StepContext<'_>, params: &FromFleet) -> anyhow::Result<StepPlan> {
    let mut plan = StepPlan::default();
    let database = ctx.inventory().database.name.clone();
    for name in &ctx.step.targets {
        let target = ctx.droplet(name)?;
        let source = source_of(ctx, params, target)?;
        if ctx.address_of(&source.name).await?.is_none() {
            plan.changes.push(Change::no_change(
                Some(name.clone()),
                format!("`{}` no longer exists; nothing to copy", source.name),
            ));
            continue;
        }
        let source_endpoint = endpoint(ctx, ctx.host(&source.name).await?, "source").await?;
        if ctx.address_of(name).await?.is_none() {
            let offline = plan_offline(ctx, params)?;
            plan.changes.extend(
                offline
                    .changes
                    .into_iter()
                    .filter(|change| change.target.as_deref() == Some(name)),
            );
            continue;
        }
        let target_endpoint = endpoint(ctx, ctx.host(name).await?, "target").await?;

        let (source_client, target_client) = (source_endpoint.client(), target_endpoint.client());
        let (source_snapshot, target_snapshot) = tokio::join!(
            verify::snapshot(&source_client, &database),
            verify::snapshot(&target_client, &database)
        );
        let source_snapshot = source_snapshot?;
        if let Ok(target_snapshot) = target_snapshot
            && !target_snapshot.tables.is_empty()
            && let Ok(verified) = verify::compare(&source_snapshot, &target_snapshot)
        {
            plan.changes.push(Change::no_change(
                Some(name.clone()),
                format!(
                    "`{database}` equal on both sides ({}, {})",
                    count(verified.tables().len(), "table"),
                    count(verified.total_rows(), "row")
                ),
            ));
            continue;
        }

        let preflight = preflight::run(
            &source_endpoint,
            &target_endpoint,
            &options(ctx, true).preflight,
        )
        .await?;
        for finding in &preflight.findings {
            plan.notes.push(format!(
                "preflight {:?}: {} ({})",
                finding.severity, finding.message, finding.hint
            ));
        }
        let rows: u64 = source_snapshot.tables.iter().map(|table| table.rows).sum();
        plan.changes.push(
            Change::new(
                ChangeAction::Update,
                Some(name.clone()),
                format!("copy database `{database}` from `{}`", source.name),
            )
            .detail(format!(
                "{}, {}",
                count(source_snapshot.tables.len(), "table"),
                count(rows, "row")
            ))
            .detail(format!(
                "writes on `{}` frozen from the copy until DNS moves",
                source.name
            )),
        );
    }
    Ok(plan)
}

pub async fn apply(ctx: &StepContext<'_>, params: &FromFleet) -> anyhow::Result<()> {
    for name in &ctx.step.targets {
        sync_one(ctx, params, name).await?;
    }
    Ok(())
}

async fn sync_one(ctx: &StepContext<'_>, params: &FromFleet, name: &str) -> anyhow::Result<()> {
    let target = ctx.droplet(name)?;
    let source = source_of(ctx, params, target)?;
    let database = ctx.inventory().database.name.clone();
    let source_endpoint = endpoint(ctx, ctx.host(&source.name).await?, "source").await?;
    let target_endpoint = endpoint(ctx, ctx.host(name).await?, "target").await?;
    ctx.record_output(&format!("{name}.verified"), serde_json::json!(false))?;

    // The freeze's start is journaled once, so a resumed sync reports the
    // whole window, not just its last attempt.
    let source_client = source_endpoint.client();
    let freeze_key = format!("{name}.freeze");
    let started_at = match ctx
        .own_output(&freeze_key)
        .and_then(|value| value.get("started_at").cloned())
    {
        Some(started) => started,
        None => {
            ctx.services
                .progress
                .message(&format!("freezing writes on {}", source.name));
            let window = cutover::freeze_writes(&source_client, ctx.services.clock.as_ref(), FREEZE_TIMEOUT, FREEZE_POLL)
                .await
                .map_err(anyhow::Error::from)
                .hint(format!("find the long write transactions on `{}` (`SHOW PROCESSLIST`), end them, and run the command again", source.name))?;
            let started = serde_json::json!(window.started_at.to_string());
            ctx.record_output(&freeze_key, serde_json::json!({"started_at": started, "drained_at": window.drained_at.to_string()}))?;
            started
        }
    };

    // With writes frozen, equal checksums mean an earlier run already copied
    // everything: nothing to redo. The source's checksums read every row,
    // so they are computed only when the target has tables to compare.
    let target_client = target_endpoint.client();
    let target_snapshot = verify::snapshot(&target_client, &database).await;
    if let Ok(target_snapshot) = target_snapshot
        && !target_snapshot.tables.is_empty()
        && let Ok(source_snapshot) = verify::snapshot(&source_client, &database).await
        && let Ok(verified) = verify::compare(&source_snapshot, &target_snapshot)
    {
        tracing::info!(source = %source.name, target = name, rows = verified.total_rows(), "databases already equal; nothing to copy");
        ctx.record_output(&format!("{name}.verified"), serde_json::json!(true))?;
        return Ok(());
    }

    // Reset the new server's copy: it holds only what an earlier,
    // unfinished attempt of this step loaded.
    let target_client = target_endpoint.client();
    target_client
        .execute(&format!(
            "DROP DATABASE IF EXISTS {}",
            quote::identifier(&database)
        ))
        .await?;

    let progress = |update: &crate::database::pipeline::Progress| {
        ctx.services.progress.message(&copy_progress_text(update));
    };
    let report = db_sync::sync(
        &source_endpoint,
        &target_endpoint,
        &options(ctx, true),
        &progress,
    )
    .await
    .map_err(anyhow::Error::from)
    .hint(format!(
        "nothing is lost: `{}` is unchanged and read-only; fix the cause and run the command again",
        source.name
    ))?;

    let synced_at = ctx.services.clock.now();
    let bytes: u64 = report
        .streams
        .iter()
        .map(|stream| stream.bytes_written)
        .sum();
    let row_tables = report
        .streams
        .iter()
        .filter(|stream| stream.format == StreamFormat::Rows)
        .count();
    // Each stream's time shows which table held the copy up.
    let stream_seconds: serde_json::Map<String, serde_json::Value> = report
        .streams
        .iter()
        .map(|stream| {
            let seconds = (stream.seconds * 100.0).round() / 100.0;
            (stream.stream.clone(), serde_json::json!(seconds))
        })
        .collect();
    ctx.record_output(
        &format!("{name}.report"),
        serde_json::json!({
            "tables": report.verified.tables().len(),
            "rows": report.verified.total_rows(),
            "bytes": bytes,
            "views_checked": report.views_checked,
            "codecs": report.codecs,
            "hop_speeds_mb_per_s": report.hop_speeds,
            "binlog": report.binlog,
            "load_format": report.rows,
            "row_tables": row_tables,
            "stream_seconds": stream_seconds,
            "timings": report.timings,
            "checksums": report.verified.tables(),
        }),
    )?;
    ctx.record_output(
        &freeze_key,
        serde_json::json!({"started_at": started_at, "synced_at": synced_at.to_string()}),
    )?;
    ctx.record_output(&format!("{name}.verified"), serde_json::json!(true))?;
    tracing::info!(source = %source.name, target = name, rows = report.verified.total_rows(), "database copied and verified");
    Ok(())
}

/// Formats a progress line of the database copy: stream, megabytes, tables.
fn copy_progress_text(update: &crate::database::pipeline::Progress) -> String {
    format!(
        "copying {}: {} MB, {}",
        update.stream,
        update.bytes_written / 1_000_000,
        count(update.tables, "table")
    )
}

#[cfg(test)]
mod tests {
    use super::copy_progress_text;
    use crate::database::pipeline::Progress;

    fn progress(tables: u64) -> Progress {
        Progress {
            stream: "table ww_shows".to_string(),
            bytes_read: 0,
            bytes_written: 0,
            tables,
            current_table: None,
        }
    }

    #[test]
    fn copy_progress_counts_tables() {
        assert_eq!(
            copy_progress_text(&progress(1)),
            "copying table ww_shows: 0 MB, 1 table"
        );
        assert_eq!(
            copy_progress_text(&progress(0)),
            "copying table ww_shows: 0 MB, 0 tables"
        );
    }
}
