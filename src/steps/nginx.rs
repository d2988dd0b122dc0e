//! `nginx.configure`: the rendered NGINX configuration, checked with
//! `nginx -t` as a candidate before it replaces the live one, then a reload.

use crate::engine::context::StepContext;
use crate::engine::plan::{Change, StepPlan};
use crate::remote::services::{self, ServiceAction};
use crate::remote::sync;
use crate::remote::{Cmd, Host};
use crate::render::{self, RenderedFile, SITES_DIR};

use super::configure::{self, check_in_place, ensure_directories, files_under, to_spec};
use super::support::on_each_target;

pub(super) const NGINX_ROOT: &str = "/etc/nginx";
/// Marker in every file wwctl renders; only such files are removed when a
/// site leaves the inventory.
const RENDERED_MARKER: &str = "rendered by wwctl";

pub fn plan_offline(ctx: &StepContext<'_>) -> anyhow::Result<StepPlan> {
    let facts = render::Facts::placeholder(ctx.inventory())?;
    let mut changes = Vec::new();
    for name in &ctx.step.targets {
        let files = files_under(ctx, name, &facts, NGINX_ROOT)?;
        let paths: Vec<&str> = files.iter().map(|file| file.path.as_str()).collect();
        changes.push(
            Change::run(
                Some(name.clone()),
                "write the NGINX configuration, check it with `nginx -t`, reload",
            )
            .detail(paths.join(", ")),
        );
    }
    Ok(StepPlan::with_changes(changes))
}

pub async fn plan(ctx: &StepContext<'_>) -> anyhow::Result<StepPlan> {
    let mut plan = StepPlan::default();
    for name in &ctx.step.targets {
        let droplet = ctx.droplet(name)?;
        if ctx.address_of(name).await?.is_none()
            || !configure::peer_addresses_known(ctx, name).await?
        {
            plan.changes.push(
                Change::run(
                    Some(name.clone()),
                    "write the NGINX configuration once the fleet's addresses are known",
                )
                .unknown("addresses"),
            );
            continue;
        }
        let facts = configure::facts(ctx, &droplet.fleet).await?;
        let files = files_under(ctx, name, &facts, NGINX_ROOT)?;
        let host = ctx.host(name).await?;
        plan.changes
            .extend(configure::plan_files(&host, name, &files).await?);
        for stale in stale_site_files(&host, &files).await? {
            plan.changes.push(Change::new(
                crate::engine::plan::ChangeAction::Delete,
                Some(name.clone()),
                format!("remove {stale}, a site no longer in the inventory"),
            ));
        }
    }
    Ok(plan)
}

pub async fn apply(ctx: &StepContext<'_>) -> anyhow::Result<()> {
    on_each_target(ctx, |name| async move { configure_one(ctx, &name).await }).await
}

async fn configure_one(ctx: &StepContext<'_>, name: &str) -> anyhow::Result<()> {
    let droplet = ctx.droplet(name)?;
    let facts = configure::facts(ctx, &droplet.fleet).await?;
    let files = files_under(ctx, name, &facts, NGINX_ROOT)?;
    let host = ctx.host(name).await?;
    let directories = render::host_directories(ctx.inventory(), &droplet.fleet, name)?;
    ensure_directories(&host, &directories).await?;

    let stale = stale_site_files(&host, &files).await?;
    let specs: Vec<_> = files.iter().map(to_spec).collect();
    let validation = check_in_place(NGINX_ROOT, &["nginx", "-t", "-q"]);
    let report = sync::sync(&host, &specs, Some(&validation)).await?;
    if !stale.is_empty() {
        let mut argv = vec!["rm", "-f", "--"];
        argv.extend(stale.iter().map(String::as_str));
        host.run(&Cmd::new(&argv)).await?;
    }

    let changed = report.changed() || !stale.is_empty();
    if changed || !services::is_active(&host, "nginx").await? {
        services::apply(&host, "nginx", ServiceAction::ReloadOrRestart).await?;
    }
    services::apply(&host, "nginx", ServiceAction::Enable).await?;
    ctx.record_output(
        &format!("{name}.nginx_files_changed"),
        serde_json::json!(report.changed_paths()),
    )?;
    Ok(())
}

/// Site files wwctl rendered earlier that the inventory no longer has.
pub(super) async fn stale_site_files(
    host: &Host,
    files: &[RenderedFile],
) -> anyhow::Result<Vec<String>> {
    let output = host
        .run_unchecked(&Cmd::new(&[
            "grep",
            "-l",
            "-r",
            "-i",
            "--include=*.conf",
            "-F",
            RENDERED_MARKER,
            SITES_DIR,
        ]))
        .await?;
    Ok(output
        .stdout_text()
        .lines()
        .filter(|path| !files.iter().any(|file| file.path == *path))
        .map(str::to_string)
        .collect())
}
