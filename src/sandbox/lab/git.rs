//! The stand-in apps as git repositories with `main` and `develop`
//! branches, served by `git daemon` on the lab bridge so hosts clone them
//! over the lab network (`git://10.77.0.1/stats.wwdt.me.git`).

use std::fs;
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{Context, bail};
use nix::fcntl::{Flock, FlockArg};

use super::apps::{self, STAND_IN_APPS, StandInApp};
use super::command::{run, stdout_of};
use super::host::HOST_ENVIRONMENT;
use super::layout::{GATEWAY, LabLayout};
use super::process;

/// The git daemon's port (git's default).
pub const GIT_PORT: u16 = 9418;

/// The version `main` starts at, and the one `develop` starts at.
const MAIN_VERSION: &str = "1.0.0";
const DEVELOP_VERSION: &str = "1.1.0.dev0";

/// Return the clone URL of a stand-in app's repository.
pub fn url(app: &StandInApp) -> String {
    format!("git://{GATEWAY}/{}.git", app.repository)
}

/// Build every stand-in app's repository: `main` at 1.0.0 and `develop`
/// one commit ahead, at 1.1.0.dev0.
pub fn publish(layout: &LabLayout) -> anyhow::Result<()> {
    fs::create_dir_all(layout.git())?;
    fs::create_dir_all(layout.git_work())?;
    for app in STAND_IN_APPS {
        publish_app(layout, app)
            .with_context(|| format!("cannot publish the stand-in app `{}`", app.repository))?;
    }
    Ok(())
}

fn publish_app(layout: &LabLayout, app: &StandInApp) -> anyhow::Result<()> {
    let work = work_dir(layout, app);
    run(git(&layout.git_work())
        .args(["init", "-q", "-b", "main"])
        .arg(&work))?;

    for (path, content) in app.files {
        let target = work.join(path);
        fs::create_dir_all(target.parent().expect("app file paths have a parent"))?;
        fs::write(&target, content)?;
    }
    fs::write(
        work.join(".gitignore"),
        "config.json\nvenv/\n__pycache__/\n",
    )?;
    fs::write(
        work.join("README.md"),
        format!(
            "# {}\n\nA stand-in for the site's app, published by the wwctl sandbox.\n",
            app.repository
        ),
    )?;
    write_version(&work, "main", MAIN_VERSION)?;
    commit(
        &work,
        &format!("Publish the sandbox stand-in for {}", app.repository),
    )?;

    run(git(&work).args(["checkout", "-q", "-b", "develop"]))?;
    write_version(&work, "develop", DEVELOP_VERSION)?;
    commit(&work, &format!("Start version {DEVELOP_VERSION}"))?;
    run(git(&work).args(["checkout", "-q", "main"]))?;

    let bare = bare_dir(layout, app);
    run(git(&layout.git())
        .args(["clone", "-q", "--bare"])
        .arg(&work)
        .arg(&bare))?;
    run(git(&work).args(["remote", "add", "published"]).arg(&bare))?;
    Ok(())
}

/// Add a commit to `branch` of a stand-in app that sets its version to
/// `version`, publish it, and return the new commit id. Tests use it for
/// "a new commit on develop".
pub fn add_commit(
    layout: &LabLayout,
    app_name: &str,
    branch: &str,
    version: &str,
) -> anyhow::Result<String> {
    let app = apps::find(app_name).with_context(|| {
        let names: Vec<&str> = STAND_IN_APPS.iter().map(|app| app.name).collect();
        format!("no stand-in app `{app_name}` (known: {})", names.join(", "))
    })?;
    let work = work_dir(layout, app);
    if !work.is_dir() {
        bail!(
            "the stand-in app `{}` is not published; is the lab up?",
            app.repository
        );
    }
    // One commit at a time per lab, because commits share the working copies.
    let lock = fs::File::create(layout.git_work().join(".lock"))?;
    let _guard = Flock::lock(lock, FlockArg::LockExclusive)
        .map_err(|(_, error)| anyhow::anyhow!("cannot lock the git working copies: {error}"))?;

    run(git(&work).args(["checkout", "-q", branch]))
        .with_context(|| format!("`{}` has no branch `{branch}`", app.repository))?;
    write_version(&work, branch, version)?;
    commit(&work, &format!("Release {version}"))?;
    run(git(&work).args(["push", "-q", "published", branch]))?;
    let id = stdout_of(git(&work).args(["rev-parse", "HEAD"]))?;
    Ok(id.trim().to_string())
}

/// Return the commit a branch of a stand-in app's published repository
/// points at.
pub fn branch_commit(layout: &LabLayout, app_name: &str, branch: &str) -> anyhow::Result<String> {
    let app = apps::find(app_name).with_context(|| format!("no stand-in app `{app_name}`"))?;
    let id = stdout_of(git(&bare_dir(layout, app)).args(["rev-parse", branch]))?;
    Ok(id.trim().to_string())
}

/// Start `git daemon` on the bridge address, serving every repository
/// under the lab's `git` folder, and wait until it accepts connections.
pub fn start_daemon(layout: &LabLayout) -> anyhow::Result<u32> {
    let log = fs::File::create(layout.git_daemon_log())?;
    let base = format!("--base-path={}", layout.git().display());
    let mut command = Command::new("git");
    command
        .args([
            "daemon",
            "--reuseaddr",
            "--export-all",
            "--informative-errors",
            &format!("--listen={GATEWAY}"),
            &format!("--port={GIT_PORT}"),
            &base,
        ])
        .arg(layout.git())
        .env_clear()
        .envs(HOST_ENVIRONMENT.iter().copied())
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .current_dir(layout.git())
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log);
    // SAFETY: setsid is async-signal-safe. The daemon gets its own process
    // group, so stopping it also stops the processes it forks per client.
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(&mut command, || {
            nix::unistd::setsid()?;
            Ok(())
        });
    }
    let mut child = command.spawn().context("cannot start `git daemon`")?;
    let pid = child.id();
    std::thread::spawn(move || {
        let _ = child.wait();
    });

    let address = SocketAddr::from((GATEWAY, GIT_PORT));
    let listening = process::wait_until(Duration::from_secs(10), || {
        TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_ok()
            || !process::is_running(pid)
    });
    if !listening || !process::is_running(pid) {
        let log = fs::read_to_string(layout.git_daemon_log()).unwrap_or_default();
        bail!("`git daemon` did not start on {address}: {}", log.trim());
    }
    Ok(pid)
}

/// Check whether `pid` is the lab's git daemon (its command line names the
/// lab's git folder).
pub fn is_daemon(layout: &LabLayout, pid: u32) -> bool {
    let base = format!("--base-path={}", layout.git().display());
    let cmdline = process::cmdline(pid);
    process::is_running(pid) && cmdline.iter().any(|arg| arg == "daemon") && cmdline.contains(&base)
}

fn work_dir(layout: &LabLayout, app: &StandInApp) -> PathBuf {
    layout.git_work().join(app.repository)
}

fn bare_dir(layout: &LabLayout, app: &StandInApp) -> PathBuf {
    layout.git().join(format!("{}.git", app.repository))
}

fn write_version(work: &Path, branch: &str, version: &str) -> anyhow::Result<()> {
    let text = serde_json::to_string_pretty(&serde_json::json!({
        "branch": branch,
        "version": version,
    }))?;
    fs::write(work.join("version.json"), format!("{text}\n"))?;
    Ok(())
}

fn commit(work: &Path, message: &str) -> anyhow::Result<()> {
    run(git(work).args(["add", "-A"]))?;
    run(git(work).args(["commit", "-q", "-m", message]))?;
    Ok(())
}

/// Build a git command in `dir` that ignores the machine's and root's git
/// configuration and commits as the sandbox.
fn git(dir: &Path) -> Command {
    let mut command = Command::new("git");
    command
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_AUTHOR_NAME", "wwctl sandbox")
        .env("GIT_AUTHOR_EMAIL", "sandbox@wwctl.invalid")
        .env("GIT_COMMITTER_NAME", "wwctl sandbox")
        .env("GIT_COMMITTER_EMAIL", "sandbox@wwctl.invalid");
    command
}
