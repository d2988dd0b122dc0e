//! `database.configure` and `database.seed`: the MySQL or MariaDB server,
//! its database and the apps' users, and generated test data where the
//! inventory sets a seed (the sandbox only).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use indexmap::IndexMap;

use crate::database::endpoint::Endpoint;
use crate::database::generate::{self, GenerateOptions};
use crate::database::sql::{Connection, SqlRunner};
use crate::database::{sync as db_sync, users};
use crate::engine::context::StepContext;
use crate::engine::plan::{Change, ChangeAction, StepPlan};
use crate::inventory::{Droplet, Role};
use crate::output;
use crate::remote::runner::SshRunner;
use crate::remote::services::{self, ServiceAction};
use crate::remote::sync;
use crate::remote::{Cmd, Host};
use crate::secret::Secret;

use super::configure::{self, check_in_place, files_under, to_spec};
use super::db_secrets;
use super::support::on_each_target;

pub(super) const MYSQL_ROOT: &str = "/etc/mysql";
/// Checks the server's option files: MariaDB has no `--validate-config`,
/// and `mariadbd --help --verbose` reads every option file and fails on an
/// unknown option or invalid value; MySQL 8 has `mysqld --validate-config`.
pub(super) const CHECK_OPTIONS_SCRIPT: &str = "if command -v mariadbd >/dev/null 2>&1; then exec mariadbd --help --verbose >/dev/null; else exec mysqld --validate-config; fi";
/// How long the server may take to accept connections after a restart.
const SERVER_READY_TIMEOUT: Duration = Duration::from_secs(60);

/// Returns the systemd unit of the database server: `mariadb` where MariaDB
/// is installed, `mysql` otherwise.
async fn service_name(host: &Host) -> anyhow::Result<&'static str> {
    let found = host
        .run_unchecked(&Cmd::new(&["sh", "-c", "command -v mariadbd"]))
        .await?;
    Ok(if found.success() { "mariadb" } else { "mysql" })
}

/// Connects a SQL endpoint on `host`, waiting until the server accepts
/// connections.
pub async fn endpoint(
    ctx: &StepContext<'_>,
    host: Arc<Host>,
    role: &'static str,
) -> anyhow::Result<Endpoint> {
    let runner: Arc<dyn crate::database::command::CommandRunner> =
        Arc::new(SshRunner::new(host.clone()));
    let deadline = ctx.services.clock.deadline(SERVER_READY_TIMEOUT);
    loop {
        match Endpoint::connect(role, runner.clone(), Connection::default_local()).await {
            Ok(endpoint) => return Ok(endpoint),
            Err(error) if ctx.services.clock.now() < deadline => {
                tracing::debug!(host = %host.target.name, %error, "database server not ready yet");
                ctx.services.clock.sleep(Duration::from_millis(500)).await;
            }
            Err(error) => {
                return Err(anyhow::Error::from(error).context(format!(
                    "the database server on `{}` does not accept connections",
                    host.target.name
                )));
            }
        }
    }
}

/// Hosts the app users connect from: `localhost` on an all-in-one server,
/// else the addresses of the environment's app servers.
async fn app_hosts(ctx: &StepContext<'_>, droplet: &Droplet) -> anyhow::Result<Vec<String>> {
    if droplet.has_role(Role::App) {
        return Ok(users::app_hosts(true, &[]));
    }
    let mut addresses = Vec::new();
    for app_server in ctx
        .inventory()
        .droplets_with_role(&droplet.fleet, &droplet.env, Role::App)
    {
        let address = ctx.address_of(&app_server.name).await?.ok_or_else(|| {
            anyhow::anyhow!(
                "app server `{}` has no recorded address for the database users",
                app_server.name
            )
        })?;
        addresses.push(address);
    }
    Ok(users::app_hosts(false, &addresses))
}

pub fn plan_configure_offline(ctx: &StepContext<'_>) -> anyhow::Result<StepPlan> {
    let database = &ctx.inventory().database;
    let users: Vec<&str> = database.users.keys().map(String::as_str).collect();
    let changes = ctx
        .step
        .targets
        .iter()
        .map(|name| {
            Change::run(
                Some(name.clone()),
                format!(
                    "write the server options, create database `{}` and its users",
                    database.name
                ),
            )
            .detail(format!("users: {}", users.join(", ")))
        })
        .collect();
    Ok(StepPlan::with_changes(changes))
}

pub async fn plan_configure(ctx: &StepContext<'_>) -> anyhow::Result<StepPlan> {
    let mut plan = StepPlan::default();
    for name in &ctx.step.targets {
        let droplet = ctx.droplet(name)?;
        if ctx.address_of(name).await?.is_none()
            || !configure::peer_addresses_known(ctx, name).await?
        {
            plan.changes.extend(
                plan_configure_offline(ctx)?
                    .changes
                    .into_iter()
                    .filter(|change| change.target.as_deref() == Some(name)),
            );
            continue;
        }
        let host = ctx.host(name).await?;
        let facts = configure::facts(ctx, &droplet.fleet).await?;
        let files = files_under(ctx, name, &facts, MYSQL_ROOT)?;
        plan.changes
            .extend(configure::plan_files(&host, name, &files).await?);

        let stored = db_secrets::load(&host).await?;
        let missing: Vec<&str> = ctx
            .inventory()
            .database
            .users
            .keys()
            .filter(|user| !stored.contains_key(*user))
            .map(String::as_str)
            .collect();
        if !missing.is_empty() {
            plan.changes.push(Change::new(
                ChangeAction::Create,
                Some(name.clone()),
                format!("create database users {}", missing.join(", ")),
            ));
        }
    }
    Ok(plan)
}

pub async fn apply_configure(ctx: &StepContext<'_>) -> anyhow::Result<()> {
    on_each_target(ctx, |name| async move { configure_one(ctx, &name).await }).await
}

async fn configure_one(ctx: &StepContext<'_>, name: &str) -> anyhow::Result<()> {
    let droplet = ctx.droplet(name)?;
    let host = ctx.host(name).await?;
    let facts = configure::facts(ctx, &droplet.fleet).await?;
    let files = files_under(ctx, name, &facts, MYSQL_ROOT)?;
    let specs: Vec<_> = files.iter().map(to_spec).collect();
    let validation = check_in_place(MYSQL_ROOT, &["sh", "-c", CHECK_OPTIONS_SCRIPT]);
    let report = sync::sync(&host, &specs, Some(&validation)).await?;

    let service = service_name(&host).await?;
    if report.changed() {
        services::apply(&host, service, ServiceAction::Restart).await?;
    } else if !services::is_active(&host, service).await? {
        services::apply(&host, service, ServiceAction::Start).await?;
    }
    services::apply(&host, service, ServiceAction::Enable).await?;

    let inventory = ctx.inventory();
    let database = &inventory.database;
    let endpoint = endpoint(ctx, host.clone(), "target").await?;
    let client = endpoint.client();
    db_sync::create_database(
        &client,
        &database.name,
        &database.charset,
        &database.collation,
    )
    .await?;

    // Passwords are stored on the server before any user gets one, so a
    // run that dies in between can still read them.
    let mut passwords: IndexMap<String, Secret> = db_secrets::load(&host).await?;
    for user in database.users.keys() {
        if !passwords.contains_key(user) {
            passwords.insert(user.clone(), users::generate_password());
        }
    }
    db_secrets::store(&host, &passwords).await?;

    let known: BTreeMap<String, Secret> = passwords.into_iter().collect();
    let wanted: Vec<_> = database.users.values().cloned().collect();
    let hosts = app_hosts(ctx, droplet).await?;
    let created = users::create_app_users(&client, &database.name, &wanted, &hosts, &known).await?;
    let names: Vec<&str> = created.iter().map(|user| user.name.as_str()).collect();
    ctx.record_output(&format!("{name}.database_users"), serde_json::json!(names))?;
    ctx.record_output(
        &format!("{name}.options_changed"),
        serde_json::json!(report.changed()),
    )?;
    Ok(())
}

// --------------------------------------------------------------------- seed

pub fn plan_seed_offline(ctx: &StepContext<'_>) -> anyhow::Result<StepPlan> {
    let Some(seed) = ctx.inventory().database.seed else {
        return Ok(StepPlan::default().note("the inventory asks for no generated data"));
    };
    let changes = ctx
        .step
        .targets
        .iter()
        .map(|name| {
            Change::run(
                Some(name.clone()),
                format!(
                    "load generated data (scale {}, seed {}) into an empty database",
                    seed.scale, seed.seed
                ),
            )
        })
        .collect();
    Ok(StepPlan::with_changes(changes))
}

/// Counts the shows in the target's database, or returns `None` when the
/// table does not exist.
async fn show_count(client: &dyn SqlRunner, database: &str) -> anyhow::Result<Option<u64>> {
    let exists = client
        .scalar(&format!(
            "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = '{database}' AND TABLE_NAME = 'ww_shows'"
        ))
        .await?;
    if exists.as_deref() != Some("1") {
        return Ok(None);
    }
    let count = client
        .scalar(&format!("SELECT COUNT(*) FROM `{database}`.`ww_shows`"))
        .await?;
    Ok(count.and_then(|count| count.parse().ok()))
}

pub async fn plan_seed(ctx: &StepContext<'_>) -> anyhow::Result<StepPlan> {
    let mut plan = plan_seed_offline(ctx)?;
    if ctx.inventory().database.seed.is_none() {
        return Ok(plan);
    }
    for change in &mut plan.changes {
        let name = change.target.clone().unwrap_or_default();
        if ctx.address_of(&name).await?.is_none() {
            continue;
        }
        let host = ctx.host(&name).await?;
        let endpoint = endpoint(ctx, host, "target").await?;
        if let Some(count) = show_count(&endpoint.client(), &ctx.inventory().database.name).await?
            && count > 0
        {
            *change = Change::no_change(
                Some(name),
                format!("database holds {}", output::count(count, "show")),
            );
        }
    }
    Ok(plan)
}

pub async fn apply_seed(ctx: &StepContext<'_>) -> anyhow::Result<()> {
    let Some(seed) = ctx.inventory().database.seed else {
        return Ok(());
    };
    on_each_target(ctx, |name| async move {
        let host = ctx.host(&name).await?;
        let endpoint = endpoint(ctx, host, "target").await?;
        let client = endpoint.client();
        let database = &ctx.inventory().database.name;
        if show_count(&client, database)
            .await?
            .is_some_and(|count| count > 0)
        {
            return Ok(());
        }

        let options = GenerateOptions {
            scale: u32::try_from(seed.scale).unwrap_or(u32::MAX),
            seed: seed.seed,
            schema: true,
        };
        let mut script = format!("USE `{database}`;\n").into_bytes();
        let generated = generate::write_sql(&options, &mut script)?;
        ctx.services.progress.message(&format!(
            "{name}: loading {} MB of generated data",
            generated.bytes / 1_000_000
        ));
        let text = String::from_utf8(script)
            .map_err(|_| anyhow::anyhow!("the generated SQL is not UTF-8"))?;
        client.execute(&text).await?;

        let shows = show_count(&client, database).await?.unwrap_or(0);
        ctx.record_output(&format!("{name}.seeded_shows"), serde_json::json!(shows))?;
        Ok(())
    })
    .await
}
