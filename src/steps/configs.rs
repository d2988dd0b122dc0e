//! `configs.apply`: every rendered file of each target in one pass (the
//! NGINX configuration, the MySQL option file, each app's settings and
//! systemd unit) with the folders they need.
//!
//! NGINX and MySQL candidates are checked in place before they go live, as
//! `nginx.configure` and `database.configure` check them, and only the
//! services whose files changed are reloaded or restarted; a service that
//! is not running is started. A run that finds every file in place writes
//! nothing and restarts nothing.
//!
//! App files go into the release the app's symlink points at, so the apps
//! must have been deployed (`apps.deploy`) before.

use std::collections::BTreeMap;

use crate::engine::context::StepContext;
use crate::engine::plan::{Change, ChangeAction, StepPlan};
use crate::error::HintExt;
use crate::inventory::{App, Inventory};
use crate::output::count;
use crate::remote::services::{self, ServiceAction};
use crate::remote::sync::{self, FileSpec, FileStatus, Validation};
use crate::remote::{Cmd, Host};
use crate::render::{self, Directory, RenderedFile, Secrets};

use super::configure::{self, check_in_place, ensure_directories, to_spec};
use super::database::{CHECK_OPTIONS_SCRIPT, MYSQL_ROOT};
use super::deploy;
use super::nginx::{self, NGINX_ROOT};
use super::support::on_each_target;

const UNIT_DIR: &str = "/etc/systemd/system";
const NGINX_UNIT: &str = "nginx";

/// Prints the target of each symlink argument, one line each, or `-` for
/// an argument that is not a symlink.
const READLINK_SCRIPT: &str = r#"for path do
  target=$(readlink -- "$path") || target=-
  printf '%s\n' "$target"
done"#;

/// Prints `inactive UNIT` for each argument unit that is not active. The
/// argument `@database` stands for the database server's unit: `mariadb`
/// where MariaDB is installed, else `mysql`, printed as `database UNIT`.
const SERVICES_SCRIPT: &str = r#"for unit do
  if [ "$unit" = @database ]; then
    if command -v mariadbd >/dev/null 2>&1; then unit=mariadb; else unit=mysql; fi
    printf 'database %s\n' "$unit"
  fi
  systemctl is-active --quiet "$unit" || printf 'inactive %s\n' "$unit"
done"#;

/// An action `apply` takes on a service.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ServiceStep {
    Start,
    Restart,
    ReloadOrRestart,
    /// `systemctl daemon-reload`, for changed unit files; the unit is `systemd`.
    DaemonReload,
}

impl ServiceStep {
    fn verb(self) -> &'static str {
        match self {
            ServiceStep::Start => "start",
            ServiceStep::Restart => "restart",
            ServiceStep::ReloadOrRestart => "reload-or-restart",
            ServiceStep::DaemonReload => "daemon-reload",
        }
    }
}

/// What reads a file, which decides how a new version is checked and which
/// service picks it up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reader {
    /// NGINX: checked with `nginx -t`, then a reload.
    Nginx,
    /// The database server: its option files are checked, then a restart.
    Database,
    /// An app's settings, under its release folder: a restart of its service.
    AppSettings { service: String },
    /// An app's systemd unit: `systemctl daemon-reload`, then a restart.
    AppUnit { service: String },
    /// No service reads the file at once.
    Other,
}

impl Reader {
    fn app_service(&self) -> Option<&str> {
        match self {
            Reader::AppSettings { service } | Reader::AppUnit { service } => Some(service),
            _ => None,
        }
    }
}

/// A file as it should be on the server, at the path it is written to.
#[derive(Clone, Debug)]
pub struct DesiredFile {
    pub reader: Reader,
    pub file: RenderedFile,
}

/// Everything `configs.apply` puts on one server.
#[derive(Clone, Debug)]
pub struct HostConfig {
    pub directories: Vec<Directory>,
    pub files: Vec<DesiredFile>,
}

impl HostConfig {
    fn has(&self, reader: &Reader) -> bool {
        self.files.iter().any(|desired| desired.reader == *reader)
    }

    fn rendered(&self) -> Vec<RenderedFile> {
        self.files
            .iter()
            .map(|desired| desired.file.clone())
            .collect()
    }

    /// Returns the app services of this server, once each, in file order.
    fn app_services(&self) -> Vec<&str> {
        let mut found: Vec<&str> = Vec::new();
        for service in self
            .files
            .iter()
            .filter_map(|desired| desired.reader.app_service())
        {
            if !found.contains(&service) {
                found.push(service);
            }
        }
        found
    }
}

/// Sorts rendered files by their reader, moving each file under an app's
/// path into that app's current release (`releases`, by app name).
pub fn classify(
    inventory: &Inventory,
    droplet: &str,
    files: Vec<RenderedFile>,
    releases: &BTreeMap<String, String>,
) -> anyhow::Result<Vec<DesiredFile>> {
    let mut desired = Vec::with_capacity(files.len());
    for mut file in files {
        let reader = if file.path.starts_with(&format!("{NGINX_ROOT}/")) {
            Reader::Nginx
        } else if file.path.starts_with(&format!("{MYSQL_ROOT}/")) {
            Reader::Database
        } else if let Some(app) = app_with_unit(inventory, &file.path) {
            Reader::AppUnit {
                service: app.service.clone(),
            }
        } else if let Some((app, rest)) = app_with_file(inventory, &file.path) {
            let release = releases.get(&app.name).ok_or_else(|| {
                anyhow::anyhow!(
                    "app `{}` has no release on `{droplet}` for `{}`",
                    app.name,
                    file.path
                )
            })?;
            file.path = format!("{release}/{rest}");
            Reader::AppSettings {
                service: app.service.clone(),
            }
        } else {
            Reader::Other
        };
        desired.push(DesiredFile { reader, file });
    }
    Ok(desired)
}

fn app_with_unit<'a>(inventory: &'a Inventory, path: &str) -> Option<&'a App> {
    inventory
        .apps
        .values()
        .find(|app| path == format!("{UNIT_DIR}/{}.service", app.service))
}

/// Returns the app whose folder contains `path`, and the path inside that
/// folder.
fn app_with_file<'a, 'p>(inventory: &'a Inventory, path: &'p str) -> Option<(&'a App, &'p str)> {
    inventory.apps.values().find_map(|app| {
        let prefix = format!("{}/", app.path.trim_end_matches('/'));
        path.strip_prefix(&prefix).map(|rest| (app, rest))
    })
}

/// Reads the release folder each app's symlink points at on `host`. An app
/// whose path is not a symlink into its releases folder is an error, because
/// wwctl never deployed it.
async fn current_releases(host: &Host, apps: &[&App]) -> anyhow::Result<BTreeMap<String, String>> {
    let mut argv = vec!["sh", "-c", READLINK_SCRIPT, "sh"];
    argv.extend(apps.iter().map(|app| app.path.as_str()));
    let output = host.run(&Cmd::new(&argv)).await?;
    let text = output.stdout_text();
    let targets: Vec<&str> = text.lines().collect();
    if targets.len() != apps.len() {
        anyhow::bail!(
            "reading the app symlinks on `{}` gave {} for {}",
            host.target.name,
            count(targets.len(), "line"),
            count(apps.len(), "app")
        );
    }

    let mut releases = BTreeMap::new();
    for (app, target) in apps.iter().zip(targets) {
        let prefix = format!("{}/", deploy::releases_dir(app));
        if !target.starts_with(&prefix) {
            return Err(anyhow::anyhow!(
                "`{}` on `{}` is not a symlink to a release of app `{}`",
                app.path,
                host.target.name,
                app.name
            ))
            .hint("deploy the apps first: `wwctl provision <fleet>` runs `apps.deploy`");
        }
        releases.insert(app.name.clone(), target.to_string());
    }
    Ok(releases)
}

/// Renders the folders and files `configs.apply` puts on droplet `name`,
/// with the real database passwords where an app's settings need them.
pub async fn desired(ctx: &StepContext<'_>, name: &str) -> anyhow::Result<HostConfig> {
    let droplet = ctx.droplet(name)?;
    let inventory = ctx.inventory();
    let facts = configure::facts(ctx, &droplet.fleet).await?;
    let apps = deploy::apps_on(ctx, droplet);

    let (secrets, releases) = if apps.is_empty() {
        (Secrets::placeholder(inventory), BTreeMap::new())
    } else {
        let host = ctx.host(name).await?;
        tokio::try_join!(
            deploy::database_passwords(ctx, droplet),
            current_releases(&host, &apps)
        )?
    };

    let files = render::host_files(inventory, &droplet.fleet, name, &facts, &secrets)?;
    Ok(HostConfig {
        directories: render::host_directories(inventory, &droplet.fleet, name)?,
        files: classify(inventory, name, files, &releases)?,
    })
}

pub fn plan_offline(ctx: &StepContext<'_>) -> anyhow::Result<StepPlan> {
    let facts = render::Facts::placeholder(ctx.inventory())?;
    let secrets = Secrets::placeholder(ctx.inventory());
    let mut changes = Vec::new();
    for name in &ctx.step.targets {
        let droplet = ctx.droplet(name)?;
        let files = render::host_files(ctx.inventory(), &droplet.fleet, name, &facts, &secrets)?;
        let paths: Vec<&str> = files.iter().map(|file| file.path.as_str()).collect();
        changes.push(
            Change::run(
                Some(name.clone()),
                "write the rendered files, check NGINX and MySQL candidates, reload or restart the services whose files change",
            )
            .detail(paths.join(", ")),
        );
    }
    Ok(StepPlan::with_changes(changes))
}

pub async fn plan(ctx: &StepContext<'_>) -> anyhow::Result<StepPlan> {
    let mut plan = StepPlan::default();
    for name in &ctx.step.targets {
        if ctx.address_of(name).await?.is_none()
            || !configure::peer_addresses_known(ctx, name).await?
        {
            plan.changes.push(
                Change::run(
                    Some(name.clone()),
                    "write the rendered files once the fleet's addresses are known",
                )
                .unknown("addresses"),
            );
            continue;
        }
        let host = ctx.host(name).await?;
        let config = desired(ctx, name).await?;
        let rendered = config.rendered();
        let look = look(&host, &config).await?;

        plan.changes
            .extend(configure::plan_files(&host, name, &rendered).await?);
        for path in &look.stale {
            plan.changes.push(Change::new(
                ChangeAction::Delete,
                Some(name.clone()),
                format!("remove {path}, a site no longer in the inventory"),
            ));
        }
        for (unit, step) in service_actions(&config, &look) {
            plan.changes.push(Change::run(
                Some(name.clone()),
                format!("{} {unit}", step.verb()),
            ));
        }
    }
    Ok(plan)
}

/// The state one look at a server found.
struct Look {
    /// The status of each desired file, in `HostConfig::files` order.
    statuses: Vec<FileStatus>,
    /// Site files wwctl rendered earlier that the inventory no longer has.
    stale: Vec<String>,
    /// The database server's unit, where the server runs one.
    database_unit: Option<String>,
    /// Units of this server's services that are not active.
    inactive: Vec<String>,
}

impl Look {
    fn changed<'a>(&self, config: &'a HostConfig) -> Vec<&'a DesiredFile> {
        config
            .files
            .iter()
            .zip(&self.statuses)
            .filter(|(_, status)| **status != FileStatus::Unchanged)
            .map(|(desired, _)| desired)
            .collect()
    }

    fn is_inactive(&self, unit: &str) -> bool {
        self.inactive.iter().any(|inactive| inactive == unit)
    }
}

/// Reads the state of the files, stale sites and services of `host`, with
/// the commands running at once.
async fn look(host: &Host, config: &HostConfig) -> anyhow::Result<Look> {
    let specs: Vec<FileSpec> = config
        .files
        .iter()
        .map(|desired| to_spec(&desired.file))
        .collect();
    let rendered = config.rendered();
    let (results, stale, services) = tokio::try_join!(
        async { Ok(sync::compare(host, &specs).await?) },
        async {
            if config.has(&Reader::Nginx) {
                nginx::stale_site_files(host, &rendered).await
            } else {
                Ok(Vec::new())
            }
        },
        service_states(host, config),
    )?;
    let (database_unit, inactive) = services;
    Ok(Look {
        statuses: results.into_iter().map(|result| result.status).collect(),
        stale,
        database_unit,
        inactive,
    })
}

/// Returns the database server's unit (where `config` has its files) and
/// the units of `config`'s services that are not active.
async fn service_states(
    host: &Host,
    config: &HostConfig,
) -> anyhow::Result<(Option<String>, Vec<String>)> {
    let mut units: Vec<String> = Vec::new();
    if config.has(&Reader::Nginx) {
        units.push(NGINX_UNIT.to_string());
    }
    if config.has(&Reader::Database) {
        units.push("@database".to_string());
    }
    units.extend(config.app_services().into_iter().map(str::to_string));
    if units.is_empty() {
        return Ok((None, Vec::new()));
    }

    let mut argv = vec![
        "sh".to_string(),
        "-c".to_string(),
        SERVICES_SCRIPT.to_string(),
        "sh".to_string(),
    ];
    argv.extend(units);
    let output = host.run(&Cmd::new(&argv)).await?;
    let mut database_unit = None;
    let mut inactive = Vec::new();
    for line in output.stdout_text().lines() {
        match line.split_once(' ') {
            Some(("database", unit)) => database_unit = Some(unit.to_string()),
            Some(("inactive", unit)) => inactive.push(unit.to_string()),
            _ => {}
        }
    }
    Ok((database_unit, inactive))
}

/// Returns the services `apply` acts on, with the action, in the order it
/// takes them: the database first because the apps connect to it, NGINX
/// last because it proxies to the apps.
fn service_actions(config: &HostConfig, look: &Look) -> Vec<(String, ServiceStep)> {
    let changed = look.changed(config);
    let touched =
        |wanted: &dyn Fn(&Reader) -> bool| changed.iter().any(|desired| wanted(&desired.reader));
    let mut actions = Vec::new();

    if let Some(unit) = &look.database_unit {
        if touched(&|reader| *reader == Reader::Database) {
            actions.push((unit.clone(), ServiceStep::Restart));
        } else if look.is_inactive(unit) {
            actions.push((unit.clone(), ServiceStep::Start));
        }
    }
    if touched(&|reader| matches!(reader, Reader::AppUnit { .. })) {
        actions.push(("systemd".to_string(), ServiceStep::DaemonReload));
    }
    for service in config.app_services() {
        if touched(&|reader| reader.app_service() == Some(service)) || look.is_inactive(service) {
            actions.push((service.to_string(), ServiceStep::Restart));
        }
    }
    let nginx_changed = touched(&|reader| *reader == Reader::Nginx) || !look.stale.is_empty();
    if nginx_changed || (config.has(&Reader::Nginx) && look.is_inactive(NGINX_UNIT)) {
        actions.push((NGINX_UNIT.to_string(), ServiceStep::ReloadOrRestart));
    }
    actions
}

pub async fn apply(ctx: &StepContext<'_>) -> anyhow::Result<()> {
    on_each_target(ctx, |name| async move { apply_one(ctx, &name).await }).await
}

async fn apply_one(ctx: &StepContext<'_>, name: &str) -> anyhow::Result<()> {
    let host = ctx.host(name).await?;
    let config = desired(ctx, name).await?;
    let (_, look) = tokio::try_join!(
        ensure_directories(&host, &config.directories),
        look(&host, &config)
    )?;
    let changed = look.changed(&config);

    // Each group goes live and its service reads it before the next group
    // is written, so a failed check never leaves an installed file unread.
    let database = specs_of(&changed, |reader| *reader == Reader::Database);
    if !database.is_empty() {
        let check = check_in_place(MYSQL_ROOT, &["sh", "-c", CHECK_OPTIONS_SCRIPT]);
        sync::sync(&host, &database, Some(&check)).await?;
    }
    let apps = specs_of(&changed, |reader| reader.app_service().is_some());
    if !apps.is_empty() {
        sync::sync(&host, &apps, None).await?;
    }
    // The database and systemd first, in order; then the apps, which do
    // not depend on each other, at once; NGINX last, below.
    let app_services = config.app_services();
    let (nginx_actions, actions): (Vec<_>, Vec<_>) = service_actions(&config, &look)
        .into_iter()
        .partition(|(unit, _)| unit == NGINX_UNIT);
    let (apps, actions): (Vec<_>, Vec<_>) = actions
        .into_iter()
        .partition(|(unit, _)| app_services.contains(&unit.as_str()));
    for (unit, action) in &actions {
        act(&host, unit, *action).await?;
    }
    futures_util::future::try_join_all(apps.iter().map(|(unit, action)| act(&host, unit, *action)))
        .await?;

    let nginx = specs_of(&changed, |reader| *reader == Reader::Nginx);
    if !nginx.is_empty() {
        let check: Validation = check_in_place(NGINX_ROOT, &["nginx", "-t", "-q"]);
        sync::sync(&host, &nginx, Some(&check)).await?;
    }
    if !look.stale.is_empty() {
        let mut argv = vec!["rm", "-f", "--"];
        argv.extend(look.stale.iter().map(String::as_str));
        host.run(&Cmd::new(&argv)).await?;
    }
    for (unit, action) in &nginx_actions {
        act(&host, unit, *action).await?;
    }

    let other = specs_of(&changed, |reader| *reader == Reader::Other);
    if !other.is_empty() {
        sync::sync(&host, &other, None).await?;
    }

    let paths: Vec<&str> = changed
        .iter()
        .map(|desired| desired.file.path.as_str())
        .chain(look.stale.iter().map(String::as_str))
        .collect();
    ctx.record_output(&format!("{name}.changed"), serde_json::json!(paths))?;
    tracing::info!(host = name, changed = paths.len(), "configuration applied");
    Ok(())
}

async fn act(host: &Host, unit: &str, step: ServiceStep) -> anyhow::Result<()> {
    let action = match step {
        ServiceStep::DaemonReload => {
            host.run(&Cmd::new(&["systemctl", "daemon-reload"])).await?;
            return Ok(());
        }
        ServiceStep::Start => ServiceAction::Start,
        ServiceStep::Restart => ServiceAction::Restart,
        ServiceStep::ReloadOrRestart => ServiceAction::ReloadOrRestart,
    };
    services::apply(host, unit, action).await?;
    Ok(())
}

fn specs_of(changed: &[&DesiredFile], wanted: impl Fn(&Reader) -> bool) -> Vec<FileSpec> {
    changed
        .iter()
        .filter(|desired| wanted(&desired.reader))
        .map(|desired| to_spec(&desired.file))
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::path::Path;

    use super::{Reader, classify};
    use crate::render::RenderedFile;

    fn inventory() -> crate::inventory::Inventory {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("inventory");
        crate::inventory::load(&dir, None).expect("the shipped inventory loads")
    }

    #[test]
    fn classify_moves_app_files_into_the_release() {
        let inventory = inventory();
        let app = inventory.apps.values().next().unwrap().clone();
        let release = format!("{}-releases/abc123", app.path);
        let releases = BTreeMap::from([(app.name.clone(), release.clone())]);
        let files = vec![
            RenderedFile::text("/etc/nginx/nginx.conf", "events {}\n"),
            RenderedFile::text(format!("{}/gunicorn.conf.py", app.path), "workers = 2\n"),
            RenderedFile::text(
                format!("/etc/systemd/system/{}.service", app.service),
                "[Service]\n",
            ),
            RenderedFile::text("/etc/mysql/mariadb.conf.d/60-wwdtm.cnf", "[mysqld]\n"),
            RenderedFile::text("/etc/motd", "hello\n"),
        ];

        let desired = classify(&inventory, "prod-2023", files, &releases).unwrap();

        assert_eq!(desired[0].reader, Reader::Nginx);
        assert_eq!(
            desired[1].reader,
            Reader::AppSettings {
                service: app.service.clone()
            }
        );
        assert_eq!(desired[1].file.path, format!("{release}/gunicorn.conf.py"));
        assert_eq!(
            desired[2].reader,
            Reader::AppUnit {
                service: app.service.clone()
            }
        );
        assert_eq!(desired[3].reader, Reader::Database);
        assert_eq!(desired[4].reader, Reader::Other);
    }

    #[test]
    fn classify_rejects_app_without_release() {
        let inventory = inventory();
        let app = inventory.apps.values().next().unwrap().clone();
        let files = vec![RenderedFile::text(
            format!("{}/config.json", app.path),
            "{}\n",
        )];

        let error = classify(&inventory, "prod-2023", files, &BTreeMap::new()).unwrap_err();

        assert!(
            error.to_string().contains("has no release on `prod-2023`"),
            "{error}"
        );
    }
}
