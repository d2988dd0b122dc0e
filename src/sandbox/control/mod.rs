//! `wwctl sandbox up`, `env`, `status`, `down` and `faults`: start, find,
//! and stop the daemon through the files of the sandbox folder.

mod http;
pub mod lab;

use std::fs;
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::json;

use crate::cli::GlobalArgs;
use crate::error::{ExitCode, HintExt, UserError};
use crate::output::Printer;
use crate::sandbox::faults::FaultSpec;
use crate::sandbox::folder::{Runtime, SandboxDir, is_sandbox_server};
use crate::sandbox::lab::status::LabStatus;
use crate::sandbox::options::ServeOptions;
use crate::sandbox::token;
use crate::secret::Secret;

/// How long `up` waits for the daemon to respond.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How long `down` waits after SIGTERM before it sends SIGKILL.
const STOP_TIMEOUT: Duration = Duration::from_secs(15);
/// Log lines shown when the daemon fails to start.
const LOG_TAIL: usize = 15;

#[derive(Debug, clap::Args)]
pub struct FaultsArgs {
    /// New faults for the account, such as `429=0.2,5xx=0.1,reset=0.05,latency=200ms`;
    /// without it the current faults are shown.
    #[arg(value_name = "SPEC", conflicts_with = "clear")]
    pub spec: Option<String>,

    /// Remove the account's faults, going back to the daemon's `--faults`.
    #[arg(long)]
    pub clear: bool,
}

pub fn up(
    global: &GlobalArgs,
    dir: &SandboxDir,
    options: &ServeOptions,
) -> anyhow::Result<ExitCode> {
    let printer = Printer::new(global.output, global.quiet);
    crate::sandbox::serve::check_backend(dir, options)?;

    dir.create()?;
    if let Some(running) = dir.running()? {
        return Err(UserError::refused(format!(
            "a sandbox already runs from `{}` (pid {}, API {})",
            dir.path.display(),
            running.pid,
            running.api_url()
        ))
        .with_hint(format!("stop it first with `{}`", dir.command("down")))
        .into());
    }
    dir.clear_runtime();
    let token = dir.token()?;
    if !options.api_only {
        printer.note("bringing the lab network up");
        lab::ensure_up(dir)?;
    }

    let mut child = spawn_daemon(global, dir, options)?;
    let runtime = wait_until_ready(dir, &mut child)?;
    if !options.api_only {
        lab::register_controller_key(dir, &runtime, &token)?;
    }
    printer.note(&format!("sandbox started (pid {})", runtime.pid));
    print_status(&printer, dir, Some(&runtime))?;
    Ok(ExitCode::Success)
}

/// Start `wwctl sandbox serve` in its own session, detached from this
/// terminal, with its output appended to the sandbox log.
fn spawn_daemon(
    global: &GlobalArgs,
    dir: &SandboxDir,
    options: &ServeOptions,
) -> anyhow::Result<std::process::Child> {
    let log_path = dir.log_file();
    let log = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(&log_path)
        .with_context(|| format!("cannot open the sandbox log `{}`", log_path.display()))?;
    let program = std::env::current_exe().context("cannot find the wwctl executable")?;

    let mut command = Command::new(program);
    command
        .arg("sandbox")
        .arg("--dir")
        .arg(&dir.path)
        .arg("serve");
    command.args(options.to_args());
    for _ in 0..global.verbose {
        command.arg("-v");
    }
    command
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log);
    // SAFETY: setsid is async-signal-safe and touches no memory of the
    // parent. It detaches the daemon from the terminal's session.
    unsafe {
        command.pre_exec(|| {
            nix::unistd::setsid()
                .map(|_| ())
                .map_err(std::io::Error::from)
        });
    }
    command
        .spawn()
        .context("cannot start `wwctl sandbox serve`")
}

/// Wait until the daemon published its runtime and passes its health
/// check. Fail with the log's end if it exits first.
fn wait_until_ready(dir: &SandboxDir, child: &mut std::process::Child) -> anyhow::Result<Runtime> {
    let started = Instant::now();
    while started.elapsed() < START_TIMEOUT {
        if let Some(status) = child.try_wait()? {
            return Err(anyhow::anyhow!(
                "the sandbox daemon exited ({status}) before it was ready:\n{}",
                log_tail(dir)
            ))
            .hint(format!("the full log is `{}`", dir.log_file().display()));
        }
        if let Some(runtime) = dir.read_runtime()?
            && runtime.pid == child.id()
            && http::request(runtime.api, "GET", "/_sandbox/health", None, None)
                .is_ok_and(|reply| reply.status == 200)
        {
            return Ok(runtime);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    Err(anyhow::anyhow!(
        "the sandbox daemon did not respond within {} s:\n{}",
        START_TIMEOUT.as_secs(),
        log_tail(dir)
    ))
    .hint(format!("the full log is `{}`", dir.log_file().display()))
}

fn log_tail(dir: &SandboxDir) -> String {
    let text = fs::read_to_string(dir.log_file()).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(LOG_TAIL)..].join("\n")
}

pub fn env(global: &GlobalArgs, dir: &SandboxDir) -> anyhow::Result<ExitCode> {
    let printer = Printer::new(global.output, global.quiet);
    let runtime = require_running(dir)?;
    let token = dir
        .read_token()?
        .ok_or_else(|| anyhow::anyhow!("the sandbox folder `{}` has no token", dir.path.display()))
        .hint(format!(
            "restart the sandbox with `{}` and `{}`",
            dir.command("down"),
            dir.command("up --api-only")
        ))?;

    let mut variables = vec![
        ("WWCTL_API_URL", runtime.api_url()),
        ("DIGITALOCEAN_TOKEN", token.expose().to_string()),
        ("WWCTL_DNS_SERVER", runtime.dns.to_string()),
        ("WWCTL_OVERLAY", "sandbox".to_string()),
        ("WWCTL_SANDBOX_DIR", dir.path.display().to_string()),
    ];
    if runtime.time_scale != 1.0 {
        variables.push(("WWCTL_TIME_SCALE", runtime.time_scale.to_string()));
    }
    variables.extend(lab::env_variables(dir)?);

    if printer.is_json() {
        let object: serde_json::Map<String, serde_json::Value> = variables
            .into_iter()
            .map(|(name, value)| (name.to_string(), json!(value)))
            .collect();
        printer.json(&object)?;
    } else {
        let lines: Vec<String> = variables
            .iter()
            .map(|(name, value)| format!("export {name}={}", shell_quote(value)))
            .collect();
        printer.text(&lines.join("\n"))?;
    }
    Ok(ExitCode::Success)
}

pub fn status(global: &GlobalArgs, dir: &SandboxDir) -> anyhow::Result<ExitCode> {
    let printer = Printer::new(global.output, global.quiet);
    let runtime = dir.running()?;
    print_status(&printer, dir, runtime.as_ref())?;
    Ok(ExitCode::Success)
}

fn print_status(
    printer: &Printer,
    dir: &SandboxDir,
    runtime: Option<&Runtime>,
) -> anyhow::Result<()> {
    let healthy = runtime.is_some_and(|runtime| {
        http::request(runtime.api, "GET", "/_sandbox/health", None, None)
            .is_ok_and(|reply| reply.status == 200)
    });
    let lab = lab::status(dir);

    if printer.is_json() {
        printer.json(&json!({
            "schema": "wwctl.sandbox-status/v1",
            "running": runtime.is_some(),
            "healthy": healthy,
            "dir": dir.path,
            "log": dir.log_file(),
            "pid": runtime.map(|runtime| runtime.pid),
            "api_url": runtime.map(Runtime::api_url),
            "dns": runtime.map(|runtime| runtime.dns.to_string()),
            "api_only": runtime.map(|runtime| runtime.api_only),
            "time_scale": runtime.map(|runtime| runtime.time_scale),
            "public_url": runtime.map(|runtime| runtime.public_url.clone()),
            "started_at": runtime.map(|runtime| runtime.started_at.to_string()),
            "lab": lab,
        }))?;
        return Ok(());
    }

    printer.text(&status_text(
        runtime,
        healthy,
        &dir.path,
        &dir.log_file(),
        lab.as_ref(),
    ))?;
    Ok(())
}

/// Formats `sandbox status` for people: the daemon, then the lab's hosts
/// and their services when a lab exists.
fn status_text(
    runtime: Option<&Runtime>,
    healthy: bool,
    folder: &Path,
    log: &Path,
    lab: Option<&LabStatus>,
) -> String {
    let mut text = match runtime {
        None => format!("sandbox: not running\nfolder:  {}", folder.display()),
        Some(runtime) => {
            let mode = if runtime.api_only {
                "API only"
            } else {
                "API and lab hosts"
            };
            let state = if healthy {
                "running"
            } else {
                "running, not answering"
            };
            format!(
                "sandbox:    {state} (pid {})\napi:        {}\ndns:        {}\nmode:       {mode}\ntime scale: {}\nfolder:     {}\nlog:        {}\nstarted:    {}",
                runtime.pid,
                runtime.api_url(),
                runtime.dns,
                runtime.time_scale,
                folder.display(),
                log.display(),
                runtime.started_at,
            )
        }
    };
    if let Some(lab) = lab {
        text.push_str("\n\n");
        text.push_str(lab.to_text().trim_end());
    }
    text
}

pub fn down(global: &GlobalArgs, dir: &SandboxDir) -> anyhow::Result<ExitCode> {
    let printer = Printer::new(global.output, global.quiet);
    let Some(runtime) = dir.running()? else {
        dir.clear_runtime();
        if lab::down(dir)? {
            printer.note("sandbox: daemon not running; lab taken down");
        } else {
            printer.note("sandbox: not running");
        }
        return Ok(ExitCode::Success);
    };

    let pid = Pid::from_raw(i32::try_from(runtime.pid).context("invalid pid in the runtime file")?);
    signal_and_wait(pid, runtime.pid, Signal::SIGTERM, STOP_TIMEOUT)?;
    if is_sandbox_server(runtime.pid) {
        tracing::warn!(
            pid = runtime.pid,
            "the sandbox ignored SIGTERM; sending SIGKILL"
        );
        signal_and_wait(pid, runtime.pid, Signal::SIGKILL, Duration::from_secs(5))?;
    }
    if is_sandbox_server(runtime.pid) {
        return Err(anyhow::anyhow!(
            "the sandbox daemon (pid {}) did not stop",
            runtime.pid
        ));
    }
    dir.clear_runtime();
    if lab::down(dir)? {
        printer.note("lab taken down: every host, link, mount and process removed");
    }
    printer.note(&format!("sandbox stopped (pid {})", runtime.pid));
    Ok(ExitCode::Success)
}

fn signal_and_wait(pid: Pid, raw: u32, signal: Signal, timeout: Duration) -> anyhow::Result<()> {
    match kill(pid, signal) {
        Ok(()) | Err(nix::errno::Errno::ESRCH) => {}
        Err(error) => {
            return Err(error)
                .with_context(|| format!("cannot send {signal} to the sandbox (pid {raw})"));
        }
    }
    let started = Instant::now();
    while is_sandbox_server(raw) && started.elapsed() < timeout {
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

pub fn faults(
    global: &GlobalArgs,
    dir: &SandboxDir,
    args: &FaultsArgs,
) -> anyhow::Result<ExitCode> {
    let printer = Printer::new(global.output, global.quiet);
    let runtime = require_running(dir)?;
    let token = account_token(dir)?;

    let reply = if args.clear {
        http::request(
            runtime.api,
            "DELETE",
            "/_sandbox/faults",
            Some(&token),
            None,
        )?
    } else if let Some(spec) = &args.spec {
        let faults = if spec == "none" {
            FaultSpec::default()
        } else {
            FaultSpec::parse(spec)
                .map_err(|error| UserError::usage(format!("invalid faults `{spec}`: {error}")))?
        };
        let body = serde_json::to_string(&faults)?;
        http::request(
            runtime.api,
            "PUT",
            "/_sandbox/faults",
            Some(&token),
            Some(&body),
        )?
    } else {
        http::request(runtime.api, "GET", "/_sandbox/faults", Some(&token), None)?
    };
    if reply.status != 200 {
        return Err(anyhow::anyhow!(
            "the sandbox rejected the faults ({}): {}",
            reply.status,
            reply.body
        ));
    }

    let value: serde_json::Value =
        serde_json::from_str(&reply.body).context("the sandbox's faults response is not JSON")?;
    if printer.is_json() {
        printer.json(&value)?;
    } else {
        let spec = value["spec"].as_str().unwrap_or("none");
        printer.text(&format!("faults: {spec}"))?;
    }
    Ok(ExitCode::Success)
}

/// Return the token whose account `faults` changes: DIGITALOCEAN_TOKEN when
/// it is a sandbox token (as `sandbox env` exports), else the folder's token.
fn account_token(dir: &SandboxDir) -> anyhow::Result<Secret> {
    if let Ok(value) = std::env::var("DIGITALOCEAN_TOKEN")
        && value.starts_with(token::PREFIX)
    {
        return Ok(Secret::new(value));
    }
    dir.read_token()?
        .ok_or_else(|| anyhow::anyhow!("the sandbox folder `{}` has no token", dir.path.display()))
}

fn require_running(dir: &SandboxDir) -> anyhow::Result<Runtime> {
    dir.running()?.ok_or_else(|| {
        UserError::usage(format!("no sandbox runs from `{}`", dir.path.display()))
            .with_hint(format!("start one with `{}`", dir.command("up --api-only")))
            .into()
    })
}

/// Quote a value for a POSIX shell: bare when safe, else in single quotes.
fn shell_quote(value: &str) -> String {
    let safe = !value.is_empty()
        && value
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || b"-_./:=@,+".contains(&byte));
    if safe {
        value.to_string()
    } else {
        format!("'{}'", value.replace('\'', "'\\''"))
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::{shell_quote, status_text};
    use crate::sandbox::folder::Runtime;
    use crate::sandbox::lab::status::{HostStatus, LabStatus};
    use crate::sandbox::lab::systemctl::status::ServiceState;

    fn runtime() -> Runtime {
        Runtime {
            pid: 4242,
            api: "127.0.0.1:8080".parse().unwrap(),
            dns: "127.0.0.1:5353".parse().unwrap(),
            api_only: false,
            time_scale: 60.0,
            public_url: "http://127.0.0.1:8080".to_string(),
            started_at: "2026-12-05T03:00:00Z".parse().unwrap(),
            version: "0.1.0".to_string(),
        }
    }

    fn lab_with_one_host() -> LabStatus {
        LabStatus {
            dir: "/var/lib/wwctl/sandbox/lab".to_string(),
            bridge_up: true,
            git_daemon_pid: Some(77),
            hosts: vec![HostStatus {
                droplet_id: 1001,
                name: "prod-2023".to_string(),
                address: "10.77.0.11".parse().unwrap(),
                power: "on".to_string(),
                services: vec![
                    ServiceState {
                        unit: "nginx.service".to_string(),
                        state: "active".to_string(),
                        enabled: "enabled".to_string(),
                    },
                    ServiceState {
                        unit: "mariadb.service".to_string(),
                        state: "active".to_string(),
                        enabled: "enabled".to_string(),
                    },
                ],
            }],
        }
    }

    #[test]
    fn status_text_lists_lab_hosts() {
        let lab = lab_with_one_host();
        let text = status_text(
            Some(&runtime()),
            true,
            Path::new("/var/lib/wwctl/sandbox"),
            Path::new("/var/lib/wwctl/sandbox/sandbox.log"),
            Some(&lab),
        );

        assert!(text.starts_with("sandbox:    running (pid 4242)"), "{text}");
        assert!(text.contains("mode:       API and lab hosts"), "{text}");
        assert!(
            text.contains("bridge: up; git daemon: running (pid 77)"),
            "{text}"
        );
        let host_line = text
            .lines()
            .find(|line| line.contains("prod-2023"))
            .unwrap_or_else(|| panic!("no host line: {text}"));
        assert!(host_line.contains("10.77.0.11"), "{host_line}");
        assert!(host_line.contains("nginx=active"), "{host_line}");
        assert!(host_line.contains("mariadb=active"), "{host_line}");
    }

    #[test]
    fn status_text_without_lab_has_no_hosts() {
        let mut runtime = runtime();
        runtime.api_only = true;
        let text = status_text(
            Some(&runtime),
            false,
            Path::new("/tmp/sandbox"),
            Path::new("/tmp/sandbox/sandbox.log"),
            None,
        );

        assert!(text.contains("running, not answering"), "{text}");
        assert!(text.contains("mode:       API only"), "{text}");
        assert!(!text.contains("bridge"), "{text}");
    }

    #[test]
    fn shell_quote_wraps_unsafe_values() {
        assert_eq!(
            shell_quote("http://127.0.0.1:8080"),
            "http://127.0.0.1:8080"
        );
        assert_eq!(shell_quote("/tmp/a b"), "'/tmp/a b'");
        assert_eq!(shell_quote("it's"), "'it'\\''s'");
        assert_eq!(shell_quote(""), "''");
    }
}
