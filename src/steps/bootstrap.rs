//! `hosts.bootstrap`: wait until a new server is ready (SSH with its pinned
//! key, cloud-init done, dpkg lock free), then install the packages its
//! roles need and create the app users.

use std::time::Duration;

use crate::engine::context::StepContext;
use crate::engine::plan::{Change, ChangeAction, StepPlan};
use crate::inventory::{Droplet, Role};
use crate::remote::{Cmd, Host, packages, readiness};

use super::support::on_each_target;

const CLOUD_INIT_TIMEOUT: Duration = Duration::from_secs(900);
const DPKG_LOCK_TIMEOUT: Duration = Duration::from_secs(600);

/// Debian packages each role needs.
pub fn packages_for(droplet: &Droplet) -> Vec<String> {
    let mut packages: Vec<&str> = vec!["ca-certificates", "openssl", "psmisc"];
    if droplet.has_role(Role::Proxy) || droplet.has_role(Role::App) {
        packages.push("nginx");
    }
    if droplet.has_role(Role::App) {
        packages.extend(["git", "python3-venv", "python3-pip", "curl"]);
    }
    if droplet.has_role(Role::Database) {
        packages.extend(["mariadb-server", "mariadb-client", "zstd"]);
    }
    packages.into_iter().map(str::to_string).collect()
}

/// Unix users the apps on `droplet` run as.
fn app_users(ctx: &StepContext<'_>, droplet: &Droplet) -> Vec<String> {
    if !droplet.has_role(Role::App) {
        return Vec::new();
    }
    let mut users: Vec<String> = ctx
        .inventory()
        .apps
        .values()
        .map(|app| app.user.clone())
        .collect();
    users.sort();
    users.dedup();
    users
}

pub fn plan_offline(ctx: &StepContext<'_>) -> anyhow::Result<StepPlan> {
    let mut changes = Vec::new();
    for name in &ctx.step.targets {
        let droplet = ctx.droplet(name)?;
        changes.push(
            Change::run(
                Some(name.clone()),
                "wait for SSH with the pinned host key, cloud-init and the dpkg lock",
            )
            .detail(format!("packages: {}", packages_for(droplet).join(" "))),
        );
    }
    Ok(StepPlan::with_changes(changes))
}

pub async fn plan(ctx: &StepContext<'_>) -> anyhow::Result<StepPlan> {
    let mut changes = Vec::new();
    for name in &ctx.step.targets {
        let droplet = ctx.droplet(name)?;
        if ctx.address_of(name).await?.is_none() {
            changes.push(
                Change::run(
                    Some(name.clone()),
                    "wait for the new server, then install packages",
                )
                .detail(format!("packages: {}", packages_for(droplet).join(" ")))
                .unknown("address"),
            );
            continue;
        }

        let host = ctx.host(name).await?;
        let missing = packages::missing(&host, &packages_for(droplet)).await?;
        let missing_users = missing_users(&host, &app_users(ctx, droplet)).await?;
        if missing.is_empty() && missing_users.is_empty() {
            changes.push(Change::no_change(
                Some(name.clone()),
                "packages and users in place",
            ));
            continue;
        }
        let mut change = Change::new(
            ChangeAction::Update,
            Some(name.clone()),
            "install what is missing",
        );
        if !missing.is_empty() {
            change = change.detail(format!("packages: {}", missing.join(" ")));
        }
        if !missing_users.is_empty() {
            change = change.detail(format!("users: {}", missing_users.join(" ")));
        }
        changes.push(change);
    }
    Ok(StepPlan::with_changes(changes))
}

pub async fn apply(ctx: &StepContext<'_>) -> anyhow::Result<()> {
    on_each_target(ctx, |name| async move { bootstrap(ctx, &name).await }).await
}

async fn bootstrap(ctx: &StepContext<'_>, name: &str) -> anyhow::Result<()> {
    let droplet = ctx.droplet(name)?;
    let target = ctx.target_of(name).await?;
    let connections = ctx.services.connections().await?;
    let cloud = &ctx.inventory().cloud;

    ctx.services
        .progress
        .message(&format!("{name}: waiting for SSH"));
    let host = readiness::wait_for_ssh(
        &connections.settings,
        &connections.known,
        target,
        &ctx.services.clock,
        cloud.ready_timeout,
    )
    .await?;
    let host = connections.adopt(host).await;

    ctx.services
        .progress
        .message(&format!("{name}: waiting for cloud-init"));
    readiness::wait_for_cloud_init(&host, CLOUD_INIT_TIMEOUT).await?;
    readiness::wait_for_dpkg_lock(&host, &ctx.services.clock, DPKG_LOCK_TIMEOUT).await?;

    ctx.services
        .progress
        .message(&format!("{name}: installing packages"));
    let installed = packages::ensure(&host, &packages_for(droplet)).await?;
    let users = app_users(ctx, droplet);
    let created = create_users(&host, &users).await?;
    ctx.record_output(
        &format!("{name}.packages_installed"),
        serde_json::json!(installed),
    )?;
    ctx.record_output(&format!("{name}.users_created"), serde_json::json!(created))?;
    Ok(())
}

async fn missing_users(host: &Host, users: &[String]) -> anyhow::Result<Vec<String>> {
    let mut missing = Vec::new();
    for user in users {
        if !host
            .run_unchecked(&Cmd::new(&["getent", "passwd", user]))
            .await?
            .success()
        {
            missing.push(user.clone());
        }
    }
    Ok(missing)
}

/// Create system users with their own group and no login shell.
async fn create_users(host: &Host, users: &[String]) -> anyhow::Result<Vec<String>> {
    let missing = missing_users(host, users).await?;
    for user in &missing {
        host.run(&Cmd::new(&[
            "useradd",
            "--system",
            "--user-group",
            "--home-dir",
            "/nonexistent",
            "--no-create-home",
            "--shell",
            "/usr/sbin/nologin",
            user,
        ]))
        .await?;
    }
    for user in users {
        host.run(&Cmd::new(&[
            "install",
            "-d",
            "-m",
            "0755",
            "-o",
            user,
            "-g",
            user,
            "/var/log/wwdtm",
        ]))
        .await?;
    }
    Ok(missing)
}
