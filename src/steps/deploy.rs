//! `apps.deploy`: the four apps from git, at the environment's branch, as
//! Gunicorn services.
//!
//! Each release is a checkout of one exact commit in
//! `<app path>-releases/<commit>`, with its own virtual environment and
//! rendered settings, and `<app path>` is a symlink switched to it in one
//! rename. When the new release fails to start, the symlink goes back to
//! the previous release, which serves again, and the step fails with the
//! app's log. A re-run with the same commit and settings changes nothing
//! and restarts nothing.

use std::time::Duration;

use crate::engine::context::StepContext;
use crate::engine::plan::{Change, ChangeAction, StepPlan};
use crate::error::{ExitCode, HintExt, UserError};
use crate::inventory::{App, Droplet, Role};
use crate::remote::services::{self, ServiceAction};
use crate::remote::sync::{self, FileSpec};
use crate::remote::{Cmd, Host, RemoteError};
use crate::render::{self, RenderedFile, Secrets};

use super::configure::{self, ensure_directories, to_spec};
use super::db_secrets;
use super::support::on_each_target;

/// Marker written last into a release folder: a folder without it is an
/// interrupted build and is rebuilt.
const COMPLETE_MARKER: &str = ".wwctl-release-complete";
/// Releases kept besides the current one, for rollback.
const KEEP_RELEASES: usize = 2;
const BUILD_TIMEOUT: Duration = Duration::from_secs(900);
const START_ATTEMPTS: usize = 20;
const LOG_TAIL_LINES: &str = "20";

/// Build a release in `$1` at commit `$3` of repository `$2`: clone, check
/// out the commit, create the virtual environment with the system's
/// packages, install the requirements (no download when they are all
/// installed already), then write the completion marker.
const BUILD_SCRIPT: &str = r#"set -e
release=$1 repo=$2 commit=$3 ref=$4 marker=$5
rm -rf -- "$release"
mkdir -p -- "$(dirname -- "$release")"
git clone --quiet --branch "$ref" -- "$repo" "$release"
git -C "$release" -c advice.detachedHead=false checkout --quiet --detach "$commit"
python3 -m venv --system-site-packages --without-pip "$release/venv"
if [ -f "$release/requirements.txt" ]; then
  "$release/venv/bin/python" -m pip install --disable-pip-version-check --no-input --quiet -r "$release/requirements.txt"
fi
touch -- "$release/$marker""#;

/// Point symlink `$2` at `$1` in one rename; a real folder at `$2` (an app
/// deployed by hand before wwctl) is kept as `$3`.
const SWITCH_SCRIPT: &str = r#"set -e
if [ -d "$2" ] && [ ! -L "$2" ]; then mv -- "$2" "$3"; fi
ln -sfn -- "$1" "$2.wwctl-new"
mv -T -- "$2.wwctl-new" "$2""#;

/// Remove release folders of `$1` other than the newest `$2` and `$3`.
const PRUNE_SCRIPT: &str = r#"set -e
dir=$1 keep=$2 current=$3
ls -1dt -- "$dir"/*/ 2>/dev/null | sed 's#/$##' | grep -vxF -- "$current" | tail -n +"$((keep + 1))" | while read -r old; do rm -rf -- "$old"; done"#;

pub(super) fn releases_dir(app: &App) -> String {
    format!("{}-releases", app.path)
}

fn release_dir(app: &App, commit: &str) -> String {
    format!("{}/{commit}", releases_dir(app))
}

/// Resolves the commit a branch or tag of `repo` points at, on `host`.
async fn resolve_commit(host: &Host, repo: &str, git_ref: &str) -> anyhow::Result<String> {
    let output = host
        .run(
            &Cmd::new(&[
                "git",
                "ls-remote",
                "--exit-code",
                "--",
                repo,
                &format!("refs/heads/{git_ref}"),
                &format!("refs/tags/{git_ref}"),
            ])
            .timeout(Duration::from_secs(120)),
        )
        .await
        .map_err(anyhow::Error::from)
        .hint(format!(
            "check that `{repo}` has a branch or tag `{git_ref}` and that `{}` can reach it",
            host.target.name
        ))?;
    let text = output.stdout_text();
    let commit = text
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string();
    if commit.len() != 40 || !commit.chars().all(|c| c.is_ascii_hexdigit()) {
        anyhow::bail!(
            "`git ls-remote {repo} {git_ref}` on `{}` gave no commit",
            host.target.name
        );
    }
    Ok(commit)
}

/// Returns the commit the app's symlink points at now, if any.
async fn current_commit(host: &Host, app: &App) -> anyhow::Result<Option<String>> {
    let output = host
        .run_unchecked(&Cmd::new(&["readlink", "--", &app.path]))
        .await?;
    if !output.success() {
        return Ok(None);
    }
    let target = output.stdout_text().trim().to_string();
    Ok(target
        .strip_prefix(&format!("{}/", releases_dir(app)))
        .map(str::to_string))
}

async fn release_complete(host: &Host, release: &str) -> anyhow::Result<bool> {
    let marker = format!("{release}/{COMPLETE_MARKER}");
    Ok(host
        .run_unchecked(&Cmd::new(&["test", "-f", &marker]))
        .await?
        .success())
}

/// Returns the apps that run on `droplet` (an app server runs them all).
pub(super) fn apps_on<'a>(ctx: &'a StepContext<'_>, droplet: &Droplet) -> Vec<&'a App> {
    if droplet.has_role(Role::App) {
        ctx.inventory().apps.values().collect()
    } else {
        Vec::new()
    }
}

fn git_ref(ctx: &StepContext<'_>, droplet: &Droplet) -> anyhow::Result<String> {
    ctx.inventory()
        .environments
        .get(&droplet.env)
        .map(|env| env.git_ref.clone())
        .ok_or_else(|| anyhow::anyhow!("environment `{}` is not in the inventory", droplet.env))
}

/// Reads the database passwords the apps on `droplet` need from the
/// environment's database server.
pub(super) async fn database_passwords(
    ctx: &StepContext<'_>,
    droplet: &Droplet,
) -> anyhow::Result<Secrets> {
    let database = ctx
        .inventory()
        .database_droplet(&droplet.fleet, &droplet.env)
        .ok_or_else(|| {
            anyhow::anyhow!(
                "fleet `{}` has no `{}` database server",
                droplet.fleet,
                droplet.env
            )
        })?;
    let host = ctx.host(&database.name).await?;
    let stored = db_secrets::load(&host).await?;

    let mut secrets = Secrets::new();
    for app in apps_on(ctx, droplet) {
        let password = stored
            .get(&app.database_user)
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "`{}` has no password for database user `{}`",
                    database.name,
                    app.database_user
                )
            })
            .hint("run the configure-database step first; re-running the command does")?;
        secrets = secrets.with_database_password(app.database_user.clone(), password.clone());
    }
    Ok(secrets)
}

/// Picks the files of `app` for `release`: its settings rebased from the
/// app path into the release folder, and its systemd unit.
fn app_files(files: &[RenderedFile], app: &App, release: &str) -> (Vec<FileSpec>, Vec<FileSpec>) {
    let prefix = format!("{}/", app.path);
    let unit_path = format!("/etc/systemd/system/{}.service", app.service);
    let mut settings = Vec::new();
    let mut unit = Vec::new();
    for file in files {
        if let Some(rest) = file.path.strip_prefix(&prefix) {
            let mut spec = to_spec(file);
            spec.path = format!("{release}/{rest}");
            settings.push(spec);
        } else if file.path == unit_path {
            unit.push(to_spec(file));
        }
    }
    (settings, unit)
}

pub fn plan_offline(ctx: &StepContext<'_>) -> anyhow::Result<StepPlan> {
    let mut changes = Vec::new();
    for name in &ctx.step.targets {
        let droplet = ctx.droplet(name)?;
        let git_ref = git_ref(ctx, droplet)?;
        for app in apps_on(ctx, droplet) {
            changes.push(
                Change::new(
                    ChangeAction::Update,
                    Some(name.clone()),
                    format!(
                        "deploy `{}` from `{git_ref}` as `{}`",
                        app.name, app.service
                    ),
                )
                .detail(app.repo.clone())
                .unknown("commit"),
            );
        }
    }
    Ok(StepPlan::with_changes(changes))
}

pub async fn plan(ctx: &StepContext<'_>) -> anyhow::Result<StepPlan> {
    let mut changes = Vec::new();
    for name in &ctx.step.targets {
        if ctx.address_of(name).await?.is_none() {
            changes.extend(
                plan_offline(ctx)?
                    .changes
                    .into_iter()
                    .filter(|change| change.target.as_deref() == Some(name)),
            );
            continue;
        }
        let droplet = ctx.droplet(name)?;
        let host = ctx.host(name).await?;
        let git_ref = git_ref(ctx, droplet)?;
        for app in apps_on(ctx, droplet) {
            let commit = resolve_commit(&host, &app.repo, &git_ref).await?;
            let current = current_commit(&host, app).await?;
            let short = |commit: &str| commit.chars().take(12).collect::<String>();
            let change = match &current {
                Some(current)
                    if *current == commit && services::is_active(&host, &app.service).await? =>
                {
                    Change::no_change(
                        Some(name.clone()),
                        format!("`{}` runs {} from `{git_ref}`", app.name, short(&commit)),
                    )
                }
                Some(current) => Change::new(
                    ChangeAction::Update,
                    Some(name.clone()),
                    format!("deploy `{}` from `{git_ref}`", app.name),
                )
                .detail(format!(
                    "commit: {} -> {}",
                    short(current),
                    short(&commit)
                )),
                None => Change::new(
                    ChangeAction::Create,
                    Some(name.clone()),
                    format!("deploy `{}` from `{git_ref}`", app.name),
                )
                .detail(format!("commit: {}", short(&commit))),
            };
            changes.push(change);
        }
    }
    Ok(StepPlan::with_changes(changes))
}

pub async fn apply(ctx: &StepContext<'_>) -> anyhow::Result<()> {
    on_each_target(ctx, |name| async move { deploy_host(ctx, &name).await }).await
}

async fn deploy_host(ctx: &StepContext<'_>, name: &str) -> anyhow::Result<()> {
    let droplet = ctx.droplet(name)?;
    let apps = apps_on(ctx, droplet);
    if apps.is_empty() {
        return Ok(());
    }
    let host = ctx.host(name).await?;
    let git_ref = git_ref(ctx, droplet)?;
    let facts = configure::facts(ctx, &droplet.fleet).await?;
    let secrets = database_passwords(ctx, droplet).await?;
    let files = render::host_files(ctx.inventory(), &droplet.fleet, name, &facts, &secrets)?;
    ensure_directories(
        &host,
        &render::host_directories(ctx.inventory(), &droplet.fleet, name)?,
    )
    .await?;

    for app in apps {
        ctx.services
            .progress
            .message(&format!("{name}: deploying {}", app.name));
        let commit = deploy_app(ctx, &host, app, &git_ref, &files).await?;
        ctx.record_output(
            &format!("{name}.{}.commit", app.name),
            serde_json::json!(commit),
        )?;
    }
    Ok(())
}

/// Deploy one app; returns the commit now serving.
async fn deploy_app(
    ctx: &StepContext<'_>,
    host: &Host,
    app: &App,
    git_ref: &str,
    files: &[RenderedFile],
) -> anyhow::Result<String> {
    let commit = resolve_commit(host, &app.repo, git_ref).await?;
    let release = release_dir(app, &commit);
    let previous = current_commit(host, app).await?;

    if !release_complete(host, &release).await? {
        let argv = [
            "sh",
            "-c",
            BUILD_SCRIPT,
            "sh",
            &release,
            &app.repo,
            &commit,
            git_ref,
            COMPLETE_MARKER,
        ];
        host.run(&Cmd::new(&argv).timeout(BUILD_TIMEOUT)).await?;
    }

    let (settings, unit) = app_files(files, app, &release);
    let settings_report = sync::sync(host, &settings, None).await?;
    let unit_report = sync::sync(host, &unit, None).await?;
    if unit_report.changed() {
        host.run(&Cmd::new(&["systemctl", "daemon-reload"])).await?;
    }

    let switched = previous.as_deref() != Some(commit.as_str());
    if switched {
        let manual_copy = format!(
            "{}/manual-{}",
            releases_dir(app),
            ctx.services.clock.now().as_second()
        );
        host.run(&Cmd::new(&[
            "sh",
            "-c",
            SWITCH_SCRIPT,
            "sh",
            &release,
            &app.path,
            &manual_copy,
        ]))
        .await?;
    }

    let changed = switched || settings_report.changed() || unit_report.changed();
    if changed || !services::is_active(host, &app.service).await? {
        if let Err(error) = start_and_probe(host, app).await {
            return Err(roll_back(ctx, host, app, previous.as_deref(), &commit, error).await);
        }
    }
    services::apply(host, &app.service, ServiceAction::Enable).await?;

    let prune = [
        "sh",
        "-c",
        PRUNE_SCRIPT,
        "sh",
        &releases_dir(app),
        &KEEP_RELEASES.to_string(),
        &release,
    ];
    host.run(&Cmd::new(&prune)).await?;
    tracing::info!(host = %host.target.name, app = %app.name, %commit, changed, "app deployed");
    Ok(commit)
}

/// Restart the app's service and wait until its socket returns 200 for the
/// health request.
async fn start_and_probe(host: &Host, app: &App) -> Result<(), RemoteError> {
    services::apply(host, &app.service, ServiceAction::Restart).await?;
    let url = format!("http://localhost{}", app.health_path);
    let probe = Cmd::new(&[
        "curl",
        "-sS",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "--max-time",
        "5",
        "--unix-socket",
        &app.socket,
        &url,
    ]);

    let mut last = String::new();
    for _ in 0..START_ATTEMPTS {
        let output = host.run_unchecked(&probe).await?;
        last = format!(
            "{}{}",
            output.stdout_text().trim(),
            String::from_utf8_lossy(&output.stderr).trim()
        );
        if output.success() && output.stdout_text().trim() == "200" {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    Err(RemoteError::CommandFailed {
        host: host.target.name.clone(),
        command: probe.display(),
        status: format!("{last} instead of 200"),
        stderr: String::new(),
    })
}

/// Put the previous release back after `failed_commit` did not start, and
/// build the error that names the app and shows its log.
async fn roll_back(
    ctx: &StepContext<'_>,
    host: &Host,
    app: &App,
    previous: Option<&str>,
    failed_commit: &str,
    cause: RemoteError,
) -> anyhow::Error {
    let log = log_tail(host, app).await;
    let restored = match previous {
        Some(previous) if previous != failed_commit => {
            let release = release_dir(app, previous);
            let manual_copy = format!(
                "{}/manual-{}",
                releases_dir(app),
                ctx.services.clock.now().as_second()
            );
            let switched = host
                .run(&Cmd::new(&[
                    "sh",
                    "-c",
                    SWITCH_SCRIPT,
                    "sh",
                    &release,
                    &app.path,
                    &manual_copy,
                ]))
                .await;
            let started = match switched {
                Ok(_) => start_and_probe(host, app).await.is_ok(),
                Err(_) => false,
            };
            if started {
                format!(
                    "the previous release {} serves again",
                    &previous[..previous.len().min(12)]
                )
            } else {
                "the previous release did not start either".to_string()
            }
        }
        _ => "there is no previous release to go back to".to_string(),
    };
    let message = format!(
        "app `{}` ({}) failed to start on `{}` at commit {}; {restored}\ncause: {cause}\nend of its logs:\n{}",
        app.name,
        app.service,
        host.target.name,
        &failed_commit[..failed_commit.len().min(12)],
        log.trim_end()
    );
    UserError::new(ExitCode::Remote, message)
        .with_hint("fix the release on its branch, then run the command again")
        .into()
}

async fn log_tail(host: &Host, app: &App) -> String {
    let error_log = format!("{}/{}/error.log", render::LOG_ROOT, app.name);
    let mut text = String::new();
    for argv in [
        vec!["tail", "-n", LOG_TAIL_LINES, error_log.as_str()],
        vec![
            "journalctl",
            "--no-pager",
            "-n",
            LOG_TAIL_LINES,
            "-u",
            app.service.as_str(),
        ],
        vec!["systemctl", "status", app.service.as_str()],
    ] {
        if let Ok(output) = host.run_unchecked(&Cmd::new(&argv)).await {
            let body = format!(
                "{}{}",
                output.stdout_text(),
                String::from_utf8_lossy(&output.stderr)
            );
            if !body.trim().is_empty() && !body.contains("No journal files were found") {
                text.push_str(&format!("$ {}\n{}\n", argv.join(" "), body.trim_end()));
            }
        }
    }
    text
}
